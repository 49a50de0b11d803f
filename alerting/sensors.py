"""Sensor health alerts: a sensor that went silent while its device still reports, and one
whose value is stuck.

Device health (`alerting.health`) covers a device that stopped altogether; this covers the
commoner field failure of one probe on a working device: a cut cable (silent) or a frozen
analogue front end that repeats its last value (stuck).

- silent: the sensor's newest reading is older than `silent_after_ms` while another sensor of
  the same device reported within that time. Stamped at the newest reading + `silent_after_ms`,
  so every pass writes the same alert (one per silence).
- stuck: every reading of the last `stuck_after_ms[kind]` has exactly the same value, with at
  least `stuck_min_readings` of them. Only kinds whose natural signal never holds still that
  long are checked (air and soil temperature, humidity, soil moisture, stem radius, radiation);
  rain, leaf wetness, wind, weights and counts legitimately stay the same for days. A value at
  the end of the kind's range (0 % or 100 % humidity, no radiation at night) is a saturated or
  dark sensor, not a stuck one. Stamped when the run of equal values had lasted that long (its
  first reading + `stuck_after_ms[kind]`), so each pass writes the same alert.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from alerting.wording import KIND_JA
from core.time import MS_PER_DAY, MS_PER_HOUR
from edge.protocol import SensorKind
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.layout import DEVICE, SENSOR, SITE, TENANT, VALUE
from storage.protocol import ReadingStore
from storage.query import Aggregate, Function, Select, match

log = logging.getLogger(__name__)

# How long each checked kind must repeat one value before it counts as stuck. Temperatures and
# humidity change within hours at any 0.1 resolution; soil water and stem radius can hold a
# value through a still, dry night, so they get a day.
STUCK_AFTER_MS: dict[SensorKind, int] = {
    SensorKind.AIR_TEMPERATURE: 6 * MS_PER_HOUR,
    SensorKind.RELATIVE_HUMIDITY: 6 * MS_PER_HOUR,
    SensorKind.SOLAR_RADIATION: 6 * MS_PER_HOUR,
    SensorKind.SOIL_TEMPERATURE: 12 * MS_PER_HOUR,
    SensorKind.SOIL_MOISTURE: 24 * MS_PER_HOUR,
    SensorKind.STEM_RADIUS: 24 * MS_PER_HOUR,
}


@dataclass(frozen=True, slots=True)
class SensorOptions:
    """When a sensor counts as silent or stuck, and how far back sensors are looked for."""

    silent_after_ms: int = MS_PER_HOUR
    stuck_after_ms: Mapping[SensorKind, int] = field(default_factory=lambda: STUCK_AFTER_MS)
    stuck_min_readings: int = 6
    # A sensor silent for longer than this is no longer looked at (it was alerted long ago).
    lookback_ms: int = 7 * MS_PER_DAY


Key = tuple[str, str, str, str]  # tenant, site, device, sensor


class SensorWatch:
    """Raises sensor-silent and sensor-stuck alerts into the alert store."""

    def __init__(
        self,
        store: ReadingStore,
        alerts: AlertStore,
        *,
        options: SensorOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Read readings from `store`, write alerts to `alerts`."""
        self._store = store
        self._alerts = alerts
        self._options = options or SensorOptions()
        self._clock = clock

    def run_once(self) -> list[Alert]:
        """One pass over every sensor of every tenant; returns the alerts it wrote."""
        now_ms = int(self._clock() * 1000)
        raised = [*self._silent(now_ms)]
        for kind, after_ms in self._options.stuck_after_ms.items():
            try:
                raised.extend(self._stuck(kind, after_ms, now_ms))
            except Exception:
                log.exception("stuck-sensor check of %s failed", kind.value)
        if raised:
            self._alerts.write(raised)
        return raised

    def _silent(self, now_ms: int) -> list[Alert]:
        newest = self._store.rows(
            Select(
                tuple(kind.value for kind in SensorKind),
                fields=(VALUE,),
                start_ms=now_ms - self._options.lookback_ms,
                group_by=(TENANT, SITE, DEVICE, SENSOR),
                descending=True,
                limit=1,
            )
        )
        last: dict[Key, tuple[int, str]] = {}
        for serie in newest:
            key = (serie.tags[TENANT], serie.tags[SITE], serie.tags[DEVICE], serie.tags[SENSOR])
            at_ms = int(serie.values[0][0])
            if key not in last or at_ms > last[key][0]:
                last[key] = (at_ms, serie.measurement)
        device_last: dict[tuple[str, str, str], int] = {}
        for (tenant, site, device, _), (at_ms, _) in last.items():
            where = (tenant, site, device)
            device_last[where] = max(device_last.get(where, at_ms), at_ms)
        after = self._options.silent_after_ms
        out = []
        for key, (at_ms, kind) in last.items():
            alive = now_ms - device_last[key[:3]] <= after
            if alive and now_ms - at_ms > after:
                out.append(_silent_alert(key, kind, since_ms=at_ms + after, last_ms=at_ms))
        return out

    def _stuck(self, kind: SensorKind, after_ms: int, now_ms: int) -> list[Alert]:
        spans = self._store.rows(
            Select(
                (kind.value,),
                aggregates=(
                    Aggregate(Function.MIN, alias="low"),
                    Aggregate(Function.MAX, alias="high"),
                    Aggregate(Function.COUNT, alias="n"),
                ),
                start_ms=now_ms - after_ms,
                end_ms=now_ms + 1,
                group_by=(TENANT, SITE, DEVICE, SENSOR),
            )
        )
        spec = kind.spec
        out = []
        for serie in spans:
            row = dict(zip(serie.columns, serie.values[0], strict=True))
            low, high, count = row["low"], row["high"], row["n"]
            if low is None or count is None or count < self._options.stuck_min_readings:
                continue
            if low != high or low in (spec.low, spec.high):
                continue
            key = (serie.tags[TENANT], serie.tags[SITE], serie.tags[DEVICE], serie.tags[SENSOR])
            start_ms, last_ms = self._run_of(key, kind, float(low), now_ms=now_ms)
            if now_ms - start_ms < after_ms:
                continue  # the run began inside the window: not yet long enough
            alert = _stuck_alert(key, kind, float(low), start_ms=start_ms, last_ms=last_ms)
            out.append(replace(alert, ts_ms=start_ms + after_ms))
        return out

    def _run_of(self, key: Key, kind: SensorKind, value: float, *, now_ms: int) -> tuple[int, int]:
        """First and last reading of the run of `value` that the sensor ends with (followed
        back as far as the look-back), so each pass stamps the alert the same."""
        tenant, site, device, sensor = key
        points = self._store.rows(
            Select(
                (kind.value,),
                match(tenant=tenant, site=site, device=device, sensor=sensor),
                fields=(VALUE,),
                start_ms=now_ms - self._options.lookback_ms,
                end_ms=now_ms + 1,
            )
        )
        values = [(int(t), v) for s in points for t, v in s.values if v is not None]
        last_ms = values[-1][0]
        start_ms = last_ms
        for at_ms, v in reversed(values):
            if float(v) != value:
                break
            start_ms = at_ms
        return start_ms, last_ms


def _hours(ms: int) -> str:
    return f"{ms / MS_PER_HOUR:.1f}"


def _silent_alert(key: Key, kind: str, *, since_ms: int, last_ms: int) -> Alert:
    tenant, site, device, sensor = key
    minutes = (since_ms - last_ms) // 60_000
    name_ja = KIND_JA.get(kind, kind)
    return Alert(
        tenant,
        site,
        device,
        sensor,
        AlertKind.SENSOR_SILENT,
        since_ms,
        1.0,
        f"sensor {sensor} ({kind}) has sent nothing for more than {minutes} min "
        "while its device still reports: check the probe and its cable",
        since_ms,
        reason_ja=f"センサー {sensor}（{name_ja}）から {minutes} 分以上計測値が届いていません"
        "（機器自体は通信中）。センサーと配線を確認してください",
    )


def _stuck_alert(key: Key, kind: SensorKind, value: float, *, start_ms: int, last_ms: int) -> Alert:
    tenant, site, device, sensor = key
    unit = kind.unit.value
    span = _hours(last_ms - start_ms)
    name_ja = KIND_JA.get(kind.value, kind.value)
    return Alert(
        tenant,
        site,
        device,
        sensor,
        AlertKind.SENSOR_STUCK,
        start_ms,
        1.0,
        f"sensor {sensor} ({kind.value}) has read exactly {value:g} {unit} for {span} h: "
        "the sensor is probably stuck",
        last_ms,
        reason_ja=f"センサー {sensor}（{name_ja}）の値が {span} 時間 {value:g} {unit} のまま"
        "変化していません。センサーの故障が考えられます",
    )


def run_sensors(watch: SensorWatch, stop: threading.Event, every_s: float) -> None:
    """Check the sensors every `every_s` until `stop` is set; a failed pass is logged."""
    while not stop.is_set():
        try:
            watch.run_once()
        except Exception:
            log.exception("sensor health check failed; trying again")
        stop.wait(every_s)
