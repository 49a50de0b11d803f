"""Moved to `storage.alerts`; this name stays until every caller imports from there."""

from storage.alerts import AlertStore, AlertStoreError, alert_line, alert_point  # noqa: F401
