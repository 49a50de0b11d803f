"""Moved to `storage.readings`, its errors to `storage.errors`; this name stays for old callers."""

from storage.errors import QueryError, StoreDownError  # noqa: F401
from storage.readings import (  # noqa: F401
    AGGREGATE_CACHE_ENTRIES,
    CATALOGUE_OVERLAP_MS,
    FULL_READ_EVERY,
    MAX_BUCKETS,
    AggregateFunction,
    Catalogue,
    DeviceStatus,
    ExportBatch,
    Interval,
    Reader,
    Reading,
    SeriesKey,
    check_range,
    from_store,
    rows_of,
)
