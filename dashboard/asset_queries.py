"""Moved to `storage.series`; this name stays until every caller imports from there."""

from storage.series import AssetReader, FloatArray, IntArray, Latest, Series  # noqa: F401
