"""What an alert is: its kind, where and when it was raised, and its deterministic id."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

from core.errors import NotFoundError, ShinshuError


class AlertError(ShinshuError):
    """Base of the errors about alerts."""


class AlertNotFoundError(AlertError, NotFoundError):
    """The tenant has no alert with this id."""


class AlertKind(StrEnum):
    """Kinds of alert: the stock-anomaly detector's, the stock-out forecast's reorder, quantity
    confirmation's discrepancy, device health's, operators' threshold rules, landslide risk."""

    DROP = "drop"
    COUNT_JUMP = "count_jump"
    SPIKE = "spike"
    FLAT_LINE = "flat_line"
    DRIFT = "drift"
    # Load-cell faults and slow losses (models.stock.loadcell): a cell reading zero under stock,
    # stock lost between stocktakes, a cell that follows the hall's temperature.
    DEAD_CELL = "dead_cell"
    PILFERAGE = "pilferage"
    TEMPERATURE_DRIFT = "temperature_drift"
    REORDER = "reorder"
    # Device health (alerting.health): no status or a last will; a full spool dropping readings.
    OFFLINE = "offline"
    SPOOL_DROPPING = "spool_dropping"
    # Sensor health (alerting.sensors): one sensor silent on a reporting device, or stuck.
    SENSOR_SILENT = "sensor_silent"
    SENSOR_STUCK = "sensor_stuck"
    # An operator's threshold rule (alerting.thresholds).
    THRESHOLD = "threshold"
    QUANTITY = "quantity_discrepancy"
    # Forecasts (models.harvest.watch): a field's harvest window opens within days.
    HARVEST_WINDOW = "harvest_window"
    # A site's landslide level rose (models.landslide.service): to caution or warning, and to
    # danger, apart so that danger alone can pass quiet hours.
    LANDSLIDE = "landslide_risk"
    LANDSLIDE_DANGER = "landslide_danger"
    # Field checks (models.frost.watch, models.field.scab_watch): a night that can kill apple
    # blossom buds; an apple scab infection period met on the revised Mills table.
    FROST = "frost_risk"
    SCAB = "scab_infection"
    # A person's "send a test" on a subscription: never stored, only sent.
    TEST = "test"

    @classmethod
    def of(cls, anomaly: StrEnum) -> AlertKind:
        """The alert kind of a detector anomaly (a `StockAnomaly`, of the same names)."""
        return cls(anomaly.value)


class AlertState(StrEnum):
    """Which alerts a listing shows: open (nobody acknowledged it yet), acknowledged (seen, not
    resolved), resolved (dealt with, with a note), or all."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    ALL = "all"


class AlertAction(StrEnum):
    """What a person did with an alert."""

    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


def alert_id(
    tenant: str, site: str, device: str, sensor: str, kind: AlertKind, *, ts_ms: int
) -> str:
    """Id of the alert raised at `ts_ms`: the same inputs give the same id, so a redelivered
    reading overwrites its alert instead of adding one.

    The raised time leads the id (hex ms) so that a lookup by id reads one instant of the store.
    """
    key = "\x1f".join((tenant, site, device, sensor, kind.value, str(ts_ms)))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{ts_ms:012x}-{digest}"


def raised_ms_of(alert_id_text: str) -> int:
    """The raised time encoded in an alert id; AlertNotFoundError if it is not an alert id."""
    head, sep, digest = alert_id_text.partition("-")
    if (
        not sep
        or len(head) != 12
        or len(digest) != 16
        or not all(c in "0123456789abcdef" for c in head + digest)
    ):
        raise AlertNotFoundError(f"no alert {alert_id_text!r}")
    return int(head, 16)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert as stored: raised by the reading at `ts_ms`, last confirmed at `last_seen_ms`.

    Further evidence of the same episode (the same kind on the same bin soon after) moves
    `last_seen_ms` instead of raising a new alert.
    """

    tenant: str
    site: str
    device: str
    sensor: str
    kind: AlertKind
    ts_ms: int
    score: float
    reason: str
    last_seen_ms: int
    # The reason in Japanese (English is `reason`); empty for alerts stored before it existed.
    reason_ja: str = ""

    @property
    def id(self) -> str:
        """The deterministic id (see `alert_id`)."""
        return alert_id(
            self.tenant, self.site, self.device, self.sensor, self.kind, ts_ms=self.ts_ms
        )


@dataclass(frozen=True, slots=True)
class Handling:
    """One person's acknowledgement or resolution of an alert: when, by whom, with what note."""

    at_ms: int
    by: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class AlertView:
    """An alert with its acknowledgement and resolution, as the API lists it.

    Resolving an alert nobody had acknowledged acknowledges it too (at the same moment).
    """

    alert: Alert
    acknowledged_ms: int | None = None
    acknowledged_by: str | None = None
    ack_note: str = ""
    resolved: Handling | None = None

    @property
    def acknowledged(self) -> bool:
        """Whether someone acknowledged (or resolved) it."""
        return self.acknowledged_ms is not None

    @property
    def state(self) -> AlertState:
        """Open, acknowledged or resolved."""
        if self.resolved is not None:
            return AlertState.RESOLVED
        return AlertState.ACKNOWLEDGED if self.acknowledged else AlertState.OPEN

    def shown_in(self, state: AlertState) -> bool:
        """Whether a listing of `state` shows this alert."""
        return state is AlertState.ALL or state is self.state
