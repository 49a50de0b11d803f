"""Device health alerts from the status every agent reports (and its last will).

Ingest stores each status message as a `device_status` point; the broker publishes a device's
last will (offline) when its connection dies without a goodbye (`kill -9`, a power cut, a lost
link). Each pass of `DeviceHealth` reads the newest status of every device of every tenant and
the spool figures of the last hours:

- offline: the newest status says offline, or the newest one is older than `silent_after_ms`
  (the device stopped reporting without a last will reaching the broker). The alert is stamped
  with the time it went offline, so every pass writes the same alert (one per outage).
- spool dropping: the agent's count of readings its full spool dropped went up. One alert per
  device and Japan day, stamped with the first status of the day that reported drops.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from core.time import MS_PER_DAY, MS_PER_HOUR
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.layout import DEVICE, SITE, STATUS_MEASUREMENT, TENANT
from storage.protocol import ReadingStore
from storage.query import Select

log = logging.getLogger(__name__)

# The sensor of an alert about the device as a whole.
DEVICE_SENSOR = "_device"
JST_OFFSET_MS = 9 * MS_PER_HOUR


@dataclass(frozen=True, slots=True)
class HealthOptions:
    """When a silent device counts as offline, and how far back drops are looked for."""

    silent_after_ms: int = 15 * 60_000
    drops_window_ms: int = 6 * MS_PER_HOUR


class DeviceHealth:
    """Raises offline and spool-dropping alerts into the alert store."""

    def __init__(
        self,
        store: ReadingStore,
        alerts: AlertStore,
        *,
        options: HealthOptions | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Read statuses from `store`, write alerts to `alerts`."""
        self._store = store
        self._alerts = alerts
        self._options = options or HealthOptions()
        self._clock = clock

    def run_once(self) -> list[Alert]:
        """One pass over every device; returns the alerts it wrote (the same ones again on a
        later pass while the condition lasts)."""
        now_ms = int(self._clock() * 1000)
        raised = [*self._offline(now_ms), *self._drops(now_ms)]
        if raised:
            self._alerts.write(raised)
        return raised

    def _offline(self, now_ms: int) -> list[Alert]:
        newest = self._store.rows(
            Select(
                (STATUS_MEASUREMENT,),
                fields=("online",),
                group_by=(TENANT, SITE, DEVICE),
                descending=True,
                limit=1,
            )
        )
        out = []
        for serie in newest:
            at_ms, online = int(serie.values[0][0]), bool(serie.values[0][1])
            tenant, site, device = serie.tags[TENANT], serie.tags[SITE], serie.tags[DEVICE]
            where = (tenant, site, device)
            if not online:
                reasons = (
                    "the device's last will: its connection ended without a goodbye",
                    "機器の接続が切断の通知なく途絶えました（ラストウィル）",
                )
                out.append(_alert(where, AlertKind.OFFLINE, at_ms, reasons))
            elif now_ms - at_ms > self._options.silent_after_ms:
                since = at_ms + self._options.silent_after_ms
                minutes = self._options.silent_after_ms // 60_000
                reasons = (
                    f"no status for more than {minutes} min",
                    f"{minutes} 分以上、機器から状態の報告がありません",
                )
                out.append(_alert(where, AlertKind.OFFLINE, since, reasons))
        return out

    def _drops(self, now_ms: int) -> list[Alert]:
        series = self._store.rows(
            Select(
                (STATUS_MEASUREMENT,),
                fields=("spool_dropped",),
                start_ms=now_ms - self._options.drops_window_ms,
                group_by=(TENANT, SITE, DEVICE),
            )
        )
        out = []
        for serie in series:
            points = [(int(t), int(v)) for t, v in serie.values if v is not None]
            first_by_day: dict[int, tuple[int, int]] = {}
            grew: dict[int, int] = defaultdict(int)
            for (_, before), (at_ms, after) in itertools.pairwise(points):
                if after > before:
                    day = (at_ms + JST_OFFSET_MS) // MS_PER_DAY
                    first_by_day.setdefault(day, (at_ms, after))
                    grew[day] += after - before
            tenant, site, device = serie.tags[TENANT], serie.tags[SITE], serie.tags[DEVICE]
            for day, (at_ms, total) in first_by_day.items():
                reasons = (
                    f"the spool is full and dropped {grew[day]} readings in the last hours "
                    f"({total} since the agent started)",
                    f"未送信データの保存領域が満杯で、この数時間に {grew[day]} 件の計測値を"
                    f"破棄しました（起動以来 {total} 件）",
                )
                out.append(_alert((tenant, site, device), AlertKind.SPOOL_DROPPING, at_ms, reasons))
        return out


def _alert(
    where: tuple[str, str, str], kind: AlertKind, at_ms: int, reasons: tuple[str, str]
) -> Alert:
    tenant, site, device = where
    en, ja = reasons
    return Alert(tenant, site, device, DEVICE_SENSOR, kind, at_ms, 1.0, en, at_ms, reason_ja=ja)


def run_health(health: DeviceHealth, stop: threading.Event, every_s: float) -> None:
    """Check device health every `every_s` until `stop` is set; a failed pass is logged."""
    while not stop.is_set():
        try:
            health.run_once()
        except Exception:
            log.exception("device health check failed; trying again")
        stop.wait(every_s)
