"""Moved to `storage.readings` (types in `storage.catalogue`, errors in `storage.errors`);
this name stays for old callers."""

from storage.catalogue import Catalogue, DeviceStatus, SeriesKey  # noqa: F401
from storage.errors import QueryError, StoreDownError  # noqa: F401
from storage.readings import (  # noqa: F401
    AGGREGATE_CACHE_ENTRIES,
    CATALOGUE_OVERLAP_MS,
    FULL_READ_EVERY,
    MAX_BUCKETS,
    AggregateFunction,
    ExportBatch,
    Interval,
    Reader,
    Reading,
    check_range,
    from_store,
    rows_of,
)
