"""The root of the platform's own errors and the kinds the web layer maps to HTTP statuses.

Each package derives its errors from `ShinshuError`, and from one of the kinds below when the
error is one of them, so that a caller (the API above all) can tell them apart by type. The
edge agent keeps its own root, `edge.config.EdgeError`: it runs on a Pi without this package.
"""

from __future__ import annotations


class ShinshuError(Exception):
    """Something the platform reports in words; the text says what and, if it can, what to do."""


class ConfigurationError(ShinshuError):
    """Settings that cannot be used (a bad value, a missing secret, a contradiction)."""


class NotFoundError(ShinshuError):
    """The thing asked for does not exist, or the caller may not know that it does (HTTP 404)."""


class ConflictError(ShinshuError):
    """The thing to create exists already (HTTP 409)."""


class InvalidInputError(ShinshuError):
    """A well-formed request with a field that cannot be accepted (HTTP 422)."""

    def __init__(self, message: str, field: str) -> None:
        """`field` names the input at fault."""
        super().__init__(message)
        self.field = field


class InvalidRequestError(ShinshuError):
    """A request that cannot be answered as asked: a bad range, cursor or choice (HTTP 400)."""


class UnavailableError(ShinshuError):
    """A service the request needs (store, broker) does not answer now; retry later (HTTP 503)."""


class SettingsError(ConfigurationError, ValueError):
    """A setting is missing, unknown or of the wrong type."""
