"""Alerts and acknowledgements in InfluxDB, beside the readings; used by the service and the API.

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
from typing import Any

from core.time import MS_PER_DAY
from edge.protocol import SensorKind
from storage.alert_types import (
    Alert,
    AlertKind,
    AlertNotFoundError,
    AlertState,
    AlertView,
    raised_ms_of,
)
from storage.errors import DatabaseNotFoundError, StoreError
from storage.influx.client import InfluxStore, quote_string
from storage.influx.lineprotocol import escape_tag, string_field
from storage.layout import ACKS_MEASUREMENT as ACKS
from storage.layout import ALERTS_MEASUREMENT as ALERTS

_ALERT_COLUMNS = '"id", "score", "reason", "last_seen", "site", "device", "sensor", "kind"'
# An acknowledgement comes after its alert; a day's slack covers device clocks running ahead.
_ACK_SLACK_MS = MS_PER_DAY
_PAGE_MIN = 200


class AlertStoreError(StoreError):
    """The store refused alert points that no retry will change."""


def _string_field(value: str) -> str:
    """A line-protocol string field value, quoted, on one line."""
    return string_field(value.replace("\n", " "))


def alert_line(alert: Alert) -> str:
    """Line protocol of one alert."""
    tags = (
        f"device={escape_tag(alert.device)},kind={alert.kind.value},"
        f"sensor={escape_tag(alert.sensor)},site={escape_tag(alert.site)},"
        f"tenant={escape_tag(alert.tenant)}"
    )
    fields = (
        f"id={_string_field(alert.id)},score={float(alert.score)!r},"
        f"reason={_string_field(alert.reason)},last_seen={int(alert.last_seen_ms)}i"
    )
    return f"{ALERTS},{tags} {fields} {alert.ts_ms}"


def _where(**tags: str | None) -> str:
    return " AND ".join(f'"{k}" = {quote_string(v)}' for k, v in tags.items() if v is not None)


def _rows(series: dict[str, Any]) -> Iterable[dict[str, Any]]:
    columns = series["columns"]
    for values in series["values"]:
        yield dict(zip(columns, values, strict=True))


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
    )


class AlertStore:
    """Reads and writes alerts, acknowledgements and bin history through one InfluxStore."""

    def __init__(self, store: InfluxStore, clock: Callable[[], float] = time.time) -> None:
        """Use `store`; `clock` (seconds since the epoch) stamps acknowledgements."""
        self._store = store
        self._clock = clock
        self._ack_lock = threading.Lock()
        self._last_ack_ms = 0

    def _series(self, q: str) -> list[dict[str, Any]]:
        """The series of a one-statement query; a database not created yet holds nothing."""
        try:
            results = self._store.query(q)
        except DatabaseNotFoundError:
            return []
        return results[0].get("series", []) if results else []

    # --- the service's side -------------------------------------------------------------------

    def write(self, alerts: Sequence[Alert]) -> None:
        """Store alerts (new, or updated with later evidence); StoreUnavailableError: retry."""
        if not alerts:
            return
        refused = self._store.write_lines([alert_line(a) for a in alerts])
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
            f'SELECT "value" FROM "{kind.value}" WHERE '
            f"{_where(tenant=tenant, site=site, device=device, sensor=sensor)} "
            f"AND time >= {int(start_ms)}ms AND time < {int(end_ms)}ms ORDER BY time ASC"
        )
        return [(int(t), float(v)) for s in series for t, v in s["values"] if v is not None]

    def bin_alerts(
        self, tenant: str, site: str, device: str, sensors: Sequence[str], since_ms: int
    ) -> list[Alert]:
        """Alerts of a device's sensors raised since `since_ms`, oldest first."""
        if not sensors:
            return []
        chosen = " OR ".join(f'"sensor" = {quote_string(s)}' for s in sensors)
        series = self._series(
            f"SELECT {_ALERT_COLUMNS} FROM {ALERTS} WHERE "
            f"{_where(tenant=tenant, site=site, device=device)} AND ({chosen}) "
            f"AND time >= {int(since_ms)}ms ORDER BY time ASC"
        )
        found = (_alert(tenant, row) for s in series for row in _rows(s))
        return [a for a in found if a is not None]

    # --- the API's side -----------------------------------------------------------------------

    def _acks(self, tenant: str, since_ms: int) -> dict[str, tuple[int, str]]:
        """The first acknowledgement (time, by) of each alert id, from `since_ms` on."""
        series = self._series(
            f'SELECT "id", "by" FROM {ACKS} WHERE {_where(tenant=tenant)} '
            f"AND time >= {int(since_ms) - _ACK_SLACK_MS}ms ORDER BY time ASC"
        )
        out: dict[str, tuple[int, str]] = {}
        for s in series:
            for row in _rows(s):
                if row.get("id") is not None:
                    out.setdefault(str(row["id"]), (int(row["time"]), str(row.get("by") or "")))
        return out

    def _view(self, alert: Alert, acks: dict[str, tuple[int, str]]) -> AlertView:
        ack = acks.get(alert.id)
        return AlertView(alert, *(ack if ack else (None, None)))

    def list_alerts(
        self, tenant: str, state: AlertState, *, site: str | None = None, limit: int = 100
    ) -> list[AlertView]:
        """Up to `limit` alerts of the tenant in `state`, newest first."""
        out: list[AlertView] = []
        page = max(limit, _PAGE_MIN)
        offset = 0
        while len(out) < limit:
            series = self._series(
                f"SELECT {_ALERT_COLUMNS} FROM {ALERTS} WHERE {_where(tenant=tenant, site=site)} "
                f"ORDER BY time DESC LIMIT {page} OFFSET {offset}"
            )
            rows = [row for s in series for row in _rows(s)]
            if not rows:
                break
            offset += len(rows)
            alerts = [a for a in (_alert(tenant, row) for row in rows) if a is not None]
            acks = self._acks(tenant, min(a.ts_ms for a in alerts)) if alerts else {}
            for alert in alerts:
                view = self._view(alert, acks)
                if (
                    state is AlertState.ALL
                    or (state is AlertState.ACKNOWLEDGED) == view.acknowledged
                ):
                    out.append(view)
            if len(rows) < page:
                break
        return out[:limit]

    def get(self, tenant: str, alert_id: str) -> AlertView:
        """One alert of the tenant by id; AlertNotFoundError if the tenant has none such."""
        ts = raised_ms_of(alert_id)
        series = self._series(
            f"SELECT {_ALERT_COLUMNS} FROM {ALERTS} WHERE {_where(tenant=tenant)} "
            f"AND time >= {ts}ms AND time <= {ts}ms"
        )
        for s in series:
            for row in _rows(s):
                alert = _alert(tenant, row)
                if alert is not None and row.get("id") == alert_id and alert.id == alert_id:
                    return self._view(alert, self._acks(tenant, ts))
        raise AlertNotFoundError(f"no alert {alert_id!r}")

    def acknowledge(self, tenant: str, alert_id: str, by: str) -> AlertView:
        """Acknowledge an alert (once: a second acknowledgement changes nothing)."""
        view = self.get(tenant, alert_id)
        if view.acknowledged:
            return view
        with self._ack_lock:
            # Acks of one tenant share a series: two in the same millisecond would be one point.
            now_ms = max(int(self._clock() * 1000), self._last_ack_ms + 1)
            self._last_ack_ms = now_ms
        line = (
            f"{ACKS},tenant={escape_tag(tenant)} id={_string_field(alert_id)},"
            f"by={_string_field(by)} {now_ms}"
        )
        refused = self._store.write_lines([line])
        if refused:
            raise AlertStoreError(f"the store refused the acknowledgement: {refused[0].reason}")
        return AlertView(view.alert, now_ms, by)
