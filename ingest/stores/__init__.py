"""Stores for readings (one module per storage backend)."""
