"""`ModelError`: the root of every model's errors (harvest, forest, stock, anomaly, registry)."""

from __future__ import annotations

from core.errors import ShinshuError


class ModelError(ShinshuError):
    """Data, parameters or a stored model that a model cannot use; the text says why."""
