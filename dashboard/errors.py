"""API errors that are not about a read model; the app maps each kind to one HTTP status."""

from __future__ import annotations

from dashboard.settings import DashboardError


class ConflictError(DashboardError):
    """The thing to create exists already (HTTP 409)."""


class InvalidInputError(DashboardError):
    """The request is well-formed JSON but a field cannot be accepted (HTTP 422)."""

    def __init__(self, message: str, field: str) -> None:
        """`field` names the body field at fault."""
        super().__init__(message)
        self.field = field


class UnavailableError(DashboardError):
    """A service the request needs (the broker, its control account) is not there (HTTP 503)."""
