"""A write of readings and device status, typed going in and coming back.

Ingest adds each message's readings to a `WriteBatch` as it parses them; the batch encodes them
for its store at once (on the parsing thread), and `write_batch` stores the lot in one request.
What the store refuses comes back per reading (the group it was added in, its position there,
the reading) and per status, never as a position in the store's own encoding.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar, overload

from edge.protocol import KIND_BOUNDS, DeviceTopic, Reading, SensorKind
from edge.status import StatusReport
from storage.points import Point, PointRefused, status_point

_Unit = TypeVar("_Unit")


@dataclass(frozen=True, slots=True)
class ChannelReadings:
    """Many readings of one sensor channel of a device, as columns (a backfill, a benchmark)."""

    topic: DeviceTopic
    sensor: str
    kind: SensorKind
    ts_ms: Sequence[int]
    values: Sequence[float]

    def reading(self, position: int) -> Reading:
        """The reading at `position`."""
        return Reading(
            self.sensor, self.kind, int(self.ts_ms[position]), float(self.values[position])
        )


class WireRecord(Protocol):
    """One reading as the wire carries it (`ingest.wire.WireReading`): time, kind's name, value
    and the sensor's name when it is not the kind's."""

    @property
    def t(self) -> int:
        """Device time, ms since the epoch."""
        ...

    @property
    def k(self) -> str:
        """The kind's name."""
        ...

    @property
    def v(self) -> float:
        """The value."""
        ...

    @property
    def s(self) -> str | None:
        """The sensor's name; None when it is the kind's."""
        ...


class WireReadings(Sequence[Reading]):
    """One message's readings, all valid, as decoded from the wire: their times are the records'
    plus `shift_ms`. Ingest's hot path hands these to the encoder, which reads the records
    directly (no Python object per reading); anything else sees ordinary `Reading`s."""

    __slots__ = ("records", "shift_ms")

    def __init__(self, records: Sequence[WireRecord], shift_ms: int = 0) -> None:
        """Readings of `records` (known kinds only), times shifted by `shift_ms`."""
        self.records = records
        self.shift_ms = shift_ms

    def _reading(self, record: WireRecord) -> Reading:
        sensor = record.k if record.s is None else record.s
        return Reading(sensor, KIND_BOUNDS[record.k][0], record.t + self.shift_ms, record.v)

    def __len__(self) -> int:
        """How many readings."""
        return len(self.records)

    @overload
    def __getitem__(self, index: int) -> Reading: ...

    @overload
    def __getitem__(self, index: slice) -> list[Reading]: ...

    def __getitem__(self, index: int | slice) -> Reading | list[Reading]:
        """The reading at `index` (a list of them for a slice)."""
        if isinstance(index, slice):
            return [self._reading(r) for r in self.records[index]]
        return self._reading(self.records[index])

    def __iter__(self) -> Iterator[Reading]:
        """The readings in order."""
        return map(self._reading, self.records)

    def __eq__(self, other: object) -> bool:
        """Equal to any sequence of the same readings."""
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=False))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        """The readings, as a list would show them."""
        return f"WireReadings({list(self)!r})"


class Encoder(Protocol[_Unit]):
    """How one store encodes what a batch holds (a line each for InfluxDB, a row for SQLite)."""

    def readings(
        self, topic: DeviceTopic, readings: Sequence[Reading], shift_ms: int, missing: int = 0
    ) -> list[_Unit]:
        """One unit per reading of one device (`missing` batches before theirs: flagged)."""
        ...

    def channel(self, channel: ChannelReadings) -> list[_Unit]:
        """One unit per reading of one sensor channel."""
        ...

    def point(self, point: Point) -> _Unit:
        """The unit of one point."""
        ...


@dataclass(frozen=True, slots=True, order=True)
class SeriesId:
    """One series of readings: its kind (the measurement) and its tags."""

    kind: SensorKind
    tenant: str
    site: str
    device: str
    sensor: str


@dataclass(frozen=True, slots=True)
class ReadingRefused:
    """A reading the store refused: the group it was added in (0, 1, ... in the order of
    `add_readings`/`add_channel` calls), its position in that group, and the store's reason."""

    group: int
    position: int
    reading: Reading
    reason: str


@dataclass(frozen=True, slots=True)
class StatusRefused:
    """A status the store refused, by the order of `add_status` calls, with the reason."""

    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class Refusals:
    """Everything of a batch the store refused; the rest is stored."""

    readings: list[ReadingRefused]
    statuses: list[StatusRefused]

    def __bool__(self) -> bool:
        """Whether anything was refused."""
        return bool(self.readings or self.statuses)


@dataclass(frozen=True, slots=True)
class _Group:
    """Where one group's units start, and what to give back for a refused one."""

    start: int
    readings: Sequence[Reading] | ChannelReadings
    topic: DeviceTopic

    def reading(self, position: int) -> Reading:
        """The reading at `position` of the group."""
        if isinstance(self.readings, ChannelReadings):
            return self.readings.reading(position)
        return self.readings[position]


class WriteBatch(Generic[_Unit]):
    """Readings and device status for one write, encoded by the store's encoder as added.

    Each `add_...` either adds everything it is given or, if encoding raises, nothing.
    """

    def __init__(self, encoder: Encoder[_Unit]) -> None:
        """An empty batch for the store whose `encoder` this is."""
        self._encoder = encoder
        self.units: list[_Unit] = []
        self.status_units: list[_Unit] = []
        self._groups: list[_Group] = []
        self._group_ids: list[int] = []
        self._status_ids: list[int] = []
        self._groups_added = 0
        self._statuses_added = 0

    @property
    def readings(self) -> int:
        """How many readings the batch holds."""
        return len(self.units)

    @property
    def statuses(self) -> int:
        """How many status points the batch holds."""
        return len(self.status_units)

    def __len__(self) -> int:
        """Readings and status points together."""
        return len(self.units) + len(self.status_units)

    def _group(self, group: _Group, units: list[_Unit]) -> int:
        self._groups.append(group)
        self._group_ids.append(self._groups_added)
        self.units.extend(units)
        self._groups_added += 1
        return self._groups_added - 1

    def add_readings(
        self, topic: DeviceTopic, readings: Sequence[Reading], shift_ms: int = 0, missing: int = 0
    ) -> int:
        """Add one device's readings; the group.

        `shift_ms` != 0: ingest moved their times; `missing` > 0: that many batch numbers of the
        device were missing before theirs. Both are stored as flag fields of each point.
        """
        units = self._encoder.readings(topic, readings, shift_ms, missing)
        return self._group(_Group(len(self.units), readings, topic), units)

    def add_channel(self, channel: ChannelReadings) -> int:
        """Add many readings of one sensor channel (a backfill); the group."""
        units = self._encoder.channel(channel)
        return self._group(_Group(len(self.units), channel, channel.topic), units)

    def add_status(self, topic: DeviceTopic, report: StatusReport, received_ms: int) -> int:
        """Add a device's status, stamped with when it was received; its index."""
        self.status_units.append(self._encoder.point(status_point(topic, report, received_ms)))
        self._status_ids.append(self._statuses_added)
        self._statuses_added += 1
        return self._statuses_added - 1

    def select(self, groups: Sequence[int] = (), statuses: Sequence[int] = ()) -> WriteBatch[_Unit]:
        """A batch of some groups and statuses of this one, refused under the same numbers
        (to write them one message at a time after a write of all raised)."""
        part: WriteBatch[_Unit] = WriteBatch(self._encoder)
        for wanted in groups:
            at = self._group_ids.index(wanted)
            group = self._groups[at]
            end = self._groups[at + 1].start if at + 1 < len(self._groups) else len(self.units)
            part._groups.append(_Group(len(part.units), group.readings, group.topic))
            part._group_ids.append(wanted)
            part.units.extend(self.units[group.start : end])
        for wanted in statuses:
            part.status_units.append(self.status_units[self._status_ids.index(wanted)])
            part._status_ids.append(wanted)
        return part

    def series_times(self) -> dict[SeriesId, list[int]]:
        """The times (ms) of the batch's readings, by series: what a write of it touches."""
        out: dict[SeriesId, list[int]] = {}
        for group in self._groups:
            topic = group.topic
            if isinstance(group.readings, ChannelReadings):
                channel = group.readings
                key = SeriesId(channel.kind, topic.tenant, topic.site, topic.device, channel.sensor)
                out.setdefault(key, []).extend(int(t) for t in channel.ts_ms)
                continue
            if isinstance(group.readings, WireReadings):
                _wire_series_times(topic, group.readings, out)
                continue
            for reading in group.readings:
                key = SeriesId(reading.kind, topic.tenant, topic.site, topic.device, reading.sensor)
                out.setdefault(key, []).append(int(reading.ts_ms))
        return out

    def all_units(self) -> list[_Unit]:
        """Readings first, then status points: the order `refusals` reads positions in."""
        return self.units + self.status_units

    def refusals(self, refused: Sequence[PointRefused]) -> Refusals:
        """What the store refused, from positions in `all_units()`."""
        starts = [group.start for group in self._groups]
        readings: list[ReadingRefused] = []
        statuses: list[StatusRefused] = []
        for item in refused:
            if item.index >= len(self.units):
                index = self._status_ids[item.index - len(self.units)]
                statuses.append(StatusRefused(index, item.reason))
                continue
            at = bisect.bisect_right(starts, item.index) - 1
            group = self._groups[at]
            position = item.index - group.start
            readings.append(
                ReadingRefused(self._group_ids[at], position, group.reading(position), item.reason)
            )
        return Refusals(readings, statuses)


def _wire_series_times(
    topic: DeviceTopic, readings: WireReadings, out: dict[SeriesId, list[int]]
) -> None:
    """Add the times of wire readings to `out` by series, one key built per sensor channel."""
    shift = readings.shift_ms
    times: dict[tuple[str, str], list[int]] = {}
    for r in readings.records:
        times.setdefault((r.k if r.s is None else r.s, r.k), []).append(r.t + shift)
    for (sensor, kind), stamps in times.items():
        key = SeriesId(KIND_BOUNDS[kind][0], topic.tenant, topic.site, topic.device, sensor)
        out.setdefault(key, []).extend(stamps)
