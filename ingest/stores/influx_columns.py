"""Moved to `storage.influx.columns`; this name stays until every caller imports from there."""

from storage.influx.columns import (  # noqa: F401
    IrregularAnswerError,
    NotNumericError,
    SeriesColumns,
    document_columns,
    packed_columns,
    unpack,
)
