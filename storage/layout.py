"""The storage layout: measurements, tags and fields, for every store and every reader.

Readings: one measurement per sensor kind (its value, e.g. `air_temperature`), tags tenant,
site, device and sensor, field `value`; a point whose timestamp ingest moved to correct a
device clock also has `clock_shift_ms`, and one that came in a batch whose number followed
missing batch numbers of its device has `seq_gap` (how many were missing; recorded since the
export flags, older points lack it). The key of a point is (measurement, tags, time in ms):
writing the same key again overwrites it, so a redelivered reading is stored once.

- `device_status`, tenant/site/device: `state`, `online`, spool and connection figures, the
  agent's version; time = when ingest received the report.
- `assets`, tenant/site/asset: `kind` and `spec` (JSON); the newest point of each asset counts.
- `alerts`, tenant/site/device/sensor/kind: `id`, `score`, `reason`, `last_seen`; time = the
  reading that raised it.
- `alert_acks`, tenant: `id`, `by`; time = when. The earliest of an id counts.
"""

from __future__ import annotations

from typing import Final

from edge.protocol import SensorKind

TENANT: Final = "tenant"
SITE: Final = "site"
DEVICE: Final = "device"
SENSOR: Final = "sensor"
# The tags of a reading, in the order their values are written (sorted by name).
READING_TAGS: Final = (DEVICE, SENSOR, SITE, TENANT)
# The tags that tell a tenant's series apart.
SERIES_TAGS: Final = (SITE, DEVICE, SENSOR)
VALUE: Final = "value"
# Flags a point whose timestamp ingest moved to correct a device clock.
SHIFT_FIELD: Final = "clock_shift_ms"
# Flags a point of a batch that ingest saw after a gap in its device's batch numbers.
GAP_FIELD: Final = "seq_gap"

# Every measurement of readings; listing them keeps rollups or foreign data out of answers.
READING_MEASUREMENTS: Final = tuple(kind.value for kind in SensorKind)

STATUS_MEASUREMENT: Final = "device_status"
STATUS_TAGS: Final = (DEVICE, SITE, TENANT)

ASSETS_MEASUREMENT: Final = "assets"
ASSET: Final = "asset"
# The site's own description is stored under this asset id.
SITE_ASSET: Final = "_site"
# Fields of an asset version besides `kind` and `spec`: who changed it, and how.
ASSET_BY: Final = "by"
ASSET_CHANGE: Final = "change"

RECORDS_MEASUREMENT: Final = "work_records"
RECORD: Final = "record"
RECORD_KIND: Final = "kind"

ALERTS_MEASUREMENT: Final = "alerts"
ALERT_KIND: Final = "kind"
ALERT_FIELDS: Final = ("id", "score", "reason", "last_seen", "reason_ja")
ACKS_MEASUREMENT: Final = "alert_acks"
