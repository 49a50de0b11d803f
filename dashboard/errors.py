"""The API's errors: `DashboardError` for the web layer's own, and the kinds shared by all.

The app maps each kind to one HTTP status (`dashboard/app.py`); nothing below the web layer
knows about HTTP. The shared kinds live in `core.errors` and are re-exported here.
"""

from __future__ import annotations

from core.errors import (
    ConflictError,
    InvalidInputError,
    InvalidRequestError,
    NotFoundError,
    ShinshuError,
    UnavailableError,
)

__all__ = [
    "ConflictError",
    "DashboardError",
    "InvalidInputError",
    "InvalidRequestError",
    "NotFoundError",
    "UnavailableError",
]


class DashboardError(ShinshuError):
    """Base of the errors the web layer raises itself; one of no other kind is a 400."""
