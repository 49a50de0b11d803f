"""Moved to `storage.alert_types`; this name stays until every caller imports from there."""

from storage.alert_types import (  # noqa: F401
    Alert,
    AlertError,
    AlertKind,
    AlertNotFoundError,
    AlertState,
    AlertView,
    alert_id,
    raised_ms_of,
)
