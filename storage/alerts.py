"""Alerts and acknowledgements in the store, beside the readings; for the service and the API.

Layout (measurement, tags; fields):

- `alerts`, tenant/site/device/sensor/kind; `id` (string), `score` (0..1), `reason` (string),
  `last_seen` (ms of the latest evidence of the same episode). Time = the reading that raised
  it. The id is a function of the tags and the time, so writing an alert again (a redelivered
  reading, a later reading of the same episode) overwrites the point instead of adding one.
- `alert_acks`, tenant; `id`, `by` (the API key id, never its secret). Time = when. The
  earliest acknowledgement of an id is the one that counts.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.time import MS_PER_DAY
from edge.protocol import SensorKind
from storage.alert_types import (
    Alert,
    AlertAction,
    AlertKind,
    AlertNotFoundError,
    AlertState,
    AlertView,
    Handling,
    raised_ms_of,
)
from storage.errors import DatabaseNotFoundError, StoreError
from storage.influx.lineprotocol import point_line
from storage.layout import ACKS_MEASUREMENT as ACKS
from storage.layout import ALERT_FIELDS, ALERT_KIND, DEVICE, SENSOR, SITE, TENANT, VALUE
from storage.layout import ALERTS_MEASUREMENT as ALERTS
from storage.points import FieldValue, Point, one_line
from storage.protocol import ReadingStore
from storage.query import Rows, Select, match

# The fields of an alert and the tags it is told by (InfluxDB answers tags selected as fields).
_ALERT_COLUMNS = (*ALERT_FIELDS, SITE, DEVICE, SENSOR, ALERT_KIND)
# An acknowledgement comes after its alert; a day's slack covers device clocks running ahead.
_ACK_SLACK_MS = MS_PER_DAY
_PAGE_MIN = 200


@dataclass(slots=True)
class _Handled:
    """The first acknowledgement and resolution found for one alert."""

    ack: Handling | None = None
    resolve: Handling | None = None


class AlertStoreError(StoreError):
    """The store refused alert points that no retry will change."""


def alert_point(alert: Alert) -> Point:
    """The point of one alert."""
    tags = {
        DEVICE: alert.device,
        ALERT_KIND: alert.kind.value,
        SENSOR: alert.sensor,
        SITE: alert.site,
        TENANT: alert.tenant,
    }
    fields: dict[str, FieldValue] = {
        "id": alert.id,
        "score": float(alert.score),
        "reason": one_line(alert.reason),
        "last_seen": int(alert.last_seen_ms),
    }
    if alert.reason_ja:
        fields["reason_ja"] = one_line(alert.reason_ja)
    return Point(ALERTS, tags, fields, alert.ts_ms)


def alert_line(alert: Alert) -> str:
    """The alert as InfluxDB line protocol."""
    return point_line(alert_point(alert))


def _rows(series: list[Rows]) -> Iterable[dict[str, Any]]:
    for serie in series:
        yield from serie.records()


def _alert(tenant: str, row: dict[str, Any]) -> Alert | None:
    """An alert from a query row; None for a row that is not one of ours (unknown kind)."""
    try:
        kind = AlertKind(row["kind"])
    except ValueError:
        return None
    ts = int(row["time"])
    last_seen = row.get("last_seen")
    # Points written by other tools must not break the API's 0..1 contract.
    score = float(row.get("score") or 0.0)
    score = min(1.0, max(0.0, score)) if math.isfinite(score) else 0.0
    return Alert(
        tenant=tenant,
        site=row["site"],
        device=row["device"],
        sensor=row["sensor"],
        kind=kind,
        ts_ms=ts,
        score=score,
        reason=str(row.get("reason") or ""),
        last_seen_ms=int(last_seen) if last_seen is not None else ts,
        reason_ja=str(row.get("reason_ja") or ""),
    )


class AlertStore:
    """Reads and writes alerts, acknowledgements and bin history through one InfluxStore."""

    def __init__(self, store: ReadingStore, clock: Callable[[], float] = time.time) -> None:
        """Use `store`; `clock` (seconds since the epoch) stamps acknowledgements."""
        self._store = store
        self._clock = clock
        self._ack_lock = threading.Lock()
        self._last_ack_ms = 0

    def _series(self, select: Select) -> list[Rows]:
        """The answer of a read; a database not created yet holds nothing."""
        try:
            return self._store.rows(select)
        except DatabaseNotFoundError:
            return []

    def _alerts(self, where: dict[str, Any], **window: Any) -> list[dict[str, Any]]:
        """Rows of the alerts of `where` (tags), with the select's other parts in `window`."""
        select = Select((ALERTS,), match(**where), fields=_ALERT_COLUMNS, **window)
        return list(_rows(self._series(select)))

    # --- the service's side -------------------------------------------------------------------

    def write(self, alerts: Sequence[Alert]) -> None:
        """Store alerts (new, or updated with later evidence); StoreUnavailableError: retry."""
        if not alerts:
            return
        refused = self._store.write_points([alert_point(a) for a in alerts])
        if refused:
            raise AlertStoreError(f"the store refused {len(refused)} alert(s): {refused[0].reason}")

    def history(
        self,
        tenant: str,
        site: str,
        device: str,
        sensor: str,
        kind: SensorKind,
        *,
        start_ms: int,
        end_ms: int,
    ) -> list[tuple[int, float]]:
        """Stored readings of one sensor in [start, end), oldest first."""
        series = self._series(
            Select(
                (kind.value,),
                match(tenant=tenant, site=site, device=device, sensor=sensor),
                fields=(VALUE,),
                start_ms=int(start_ms),
                end_ms=int(end_ms),
            )
        )
        return [(int(t), float(v)) for s in series for t, v in s.values if v is not None]

    def bin_alerts(
        self, tenant: str, site: str, device: str, sensors: Sequence[str], since_ms: int
    ) -> list[Alert]:
        """Alerts of a device's sensors raised since `since_ms`, oldest first."""
        if not sensors:
            return []
        rows = self._alerts(
            {TENANT: tenant, SITE: site, DEVICE: device, SENSOR: sensors}, start_ms=int(since_ms)
        )
        found = (_alert(tenant, row) for row in rows)
        return [a for a in found if a is not None]

    # --- the API's side -----------------------------------------------------------------------

    def _acks(self, tenant: str, since_ms: int) -> dict[str, _Handled]:
        """The first acknowledgement and the first resolution of each alert id, from
        `since_ms` on (points written before resolutions existed are acknowledgements)."""
        series = self._series(
            Select(
                (ACKS,),
                match(tenant=tenant),
                fields=("id", "by", "action", "note"),
                start_ms=int(since_ms) - _ACK_SLACK_MS,
            )
        )
        out: dict[str, _Handled] = {}
        for row in _rows(series):
            if row.get("id") is None:
                continue
            handled = out.setdefault(str(row["id"]), _Handled())
            done = Handling(int(row["time"]), str(row.get("by") or ""), str(row.get("note") or ""))
            if row.get("action") == AlertAction.RESOLVE.value:
                handled.resolve = handled.resolve or done
            else:
                handled.ack = handled.ack or done
        return out

    def _view(self, alert: Alert, acks: dict[str, _Handled]) -> AlertView:
        handled = acks.get(alert.id)
        if handled is None:
            return AlertView(alert)
        ack = handled.ack or handled.resolve
        assert ack is not None
        return AlertView(alert, ack.at_ms, ack.by, ack.note, handled.resolve)

    def list_alerts(
        self,
        tenant: str,
        state: AlertState,
        *,
        site: str | None = None,
        kinds: Sequence[AlertKind] = (),
        limit: int = 100,
    ) -> list[AlertView]:
        """Up to `limit` alerts of the tenant in `state` (of `site` and `kinds` when given),
        newest first."""
        out: list[AlertView] = []
        page = max(limit, _PAGE_MIN)
        offset = 0
        where: dict[str, Any] = {TENANT: tenant, SITE: site}
        if kinds:
            where[ALERT_KIND] = [k.value for k in kinds]
        while len(out) < limit:
            rows = self._alerts(where, descending=True, limit=page, offset=offset)
            if not rows:
                break
            offset += len(rows)
            alerts = [a for a in (_alert(tenant, row) for row in rows) if a is not None]
            acks = self._acks(tenant, min(a.ts_ms for a in alerts)) if alerts else {}
            out.extend(v for v in (self._view(a, acks) for a in alerts) if v.shown_in(state))
            if len(rows) < page:
                break
        return out[:limit]

    def raised_between(self, tenant: str, start_ms: int, end_ms: int) -> list[AlertView]:
        """The tenant's alerts raised in [start, end), oldest first, with their acks."""
        rows = self._alerts({TENANT: tenant}, start_ms=int(start_ms), end_ms=int(end_ms))
        alerts = [a for a in (_alert(tenant, row) for row in rows) if a is not None]
        acks = self._acks(tenant, min(a.ts_ms for a in alerts)) if alerts else {}
        return [self._view(a, acks) for a in alerts]

    def get(self, tenant: str, alert_id: str) -> AlertView:
        """One alert of the tenant by id; AlertNotFoundError if the tenant has none such."""
        ts = raised_ms_of(alert_id)
        for row in self._alerts({TENANT: tenant}, start_ms=ts, end_ms=ts + 1):
            alert = _alert(tenant, row)
            if alert is not None and row.get("id") == alert_id and alert.id == alert_id:
                return self._view(alert, self._acks(tenant, ts))
        raise AlertNotFoundError(f"no alert {alert_id!r}")

    def acknowledge(self, tenant: str, alert_id: str, by: str, *, note: str = "") -> AlertView:
        """Acknowledge an alert (once: a second acknowledgement changes nothing)."""
        view = self.get(tenant, alert_id)
        if view.acknowledged:
            return view
        done = self._handle(tenant, alert_id, AlertAction.ACKNOWLEDGE, by=by, note=note)
        return self._view(view.alert, {alert_id: _Handled(ack=done)})

    def resolve(self, tenant: str, alert_id: str, by: str, *, note: str = "") -> AlertView:
        """Mark an alert dealt with, with a note (once: a second resolution changes nothing)."""
        view = self.get(tenant, alert_id)
        if view.resolved is not None:
            return view
        done = self._handle(tenant, alert_id, AlertAction.RESOLVE, by=by, note=note)
        ack = None
        if view.acknowledged_ms is not None:
            ack = Handling(view.acknowledged_ms, view.acknowledged_by or "", view.ack_note)
        return self._view(view.alert, {alert_id: _Handled(ack=ack, resolve=done)})

    def _handle(
        self, tenant: str, alert_id: str, action: AlertAction, *, by: str, note: str
    ) -> Handling:
        """Store one person's action on an alert; returns it as the store keeps it."""
        with self._ack_lock:
            # Acks of one tenant share a series: two in the same millisecond would be one point.
            now_ms = max(int(self._clock() * 1000), self._last_ack_ms + 1)
            self._last_ack_ms = now_ms
        fields: dict[str, FieldValue] = {
            "id": one_line(alert_id),
            "by": one_line(by),
            "action": action.value,
        }
        if note:
            fields["note"] = one_line(note)
        refused = self._store.write_points([Point(ACKS, {TENANT: tenant}, fields, now_ms)])
        if refused:
            raise AlertStoreError(f"the store refused the {action.value}: {refused[0].reason}")
        return Handling(now_ms, one_line(by), one_line(note) if note else "")
