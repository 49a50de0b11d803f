"""Moved to `storage.influx.lineprotocol`; this name stays until every caller imports from there."""

from storage.influx.lineprotocol import (  # noqa: F401
    SHIFT_FIELD,
    STATUS_MEASUREMENT,
    escape_tag,
    reading_lines,
    series_lines,
    status_line,
    string_field,
)
