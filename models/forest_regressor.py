"""Moved to `models.forest.regressor`; this name stays until every import uses the new one."""

from models.forest.regressor import ChapmanRichardsRegressor  # noqa: F401
