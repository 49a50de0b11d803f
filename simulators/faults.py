"""Device faults for live simulations: schedules (from a file or a seed) and their ground truth.

Four kinds, each injected by `simulators.live` through the real edge agent:

- `outage`: the device cannot reach the broker in [start, end); its spool holds the readings
  and the uplink delivers them after reconnecting.
- `clock_skew`: the device clock is off by `offset_s` seconds in [start, end); readings taken
  meanwhile carry timestamps shifted by that much (the agent still believes it is synced).
- `reboot`: the agent is stopped at `start` and started again on the same spool at `end`;
  sensors take no readings in between, and nothing spooled before the stop is lost.
- `malformed`: one garbage message on the device's `up` topic at `start` (ingest dead-letters it).
- `theft`: a stock anomaly rather than a device fault: at `start`, `fraction` of the stock of
  factory bin `bin` leaves unrecorded, so its load cell reads that much less from then on
  while its item counter does not move (an unexplained drop, for the live alerts).

A schedule file is TOML or JSON with a list `faults` of tables, e.g.::

    [[faults]]
    site = "suwa-precision"
    kind = "outage"
    start = "+2h"          # from the scenario start; or an ISO time such as 2025-06-01T02:00Z
    duration = "45m"       # or end = ...

Times and durations are simulated time. Every fault applied is written to `faults.csv` beside
the other ground-truth files, with the times at which it actually took effect.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from core import time as core_time
from core.errors import ShinshuError
from core.time import MS_PER_DAY, MS_PER_MINUTE
from simulators.truth import write_csv

# Child seed stream of the scenario seed for faults; 0..2 are the farms, forests and factories.
FAULT_SEED_STREAM = 3


class FaultError(ShinshuError, ValueError):
    """A fault schedule cannot be read or does not fit the scenario; the text says why."""


class FaultKind(StrEnum):
    """What goes wrong with a device."""

    OUTAGE = "outage"
    CLOCK_SKEW = "clock_skew"
    REBOOT = "reboot"
    MALFORMED = "malformed"
    THEFT = "theft"


# Faults a seeded schedule draws from (a theft needs a bin, so it is only ever scheduled).
RANDOM_KINDS = (FaultKind.OUTAGE, FaultKind.CLOCK_SKEW, FaultKind.REBOOT, FaultKind.MALFORMED)


class MalformedKind(StrEnum):
    """The kinds of garbage a malformed-payload fault publishes."""

    NOT_JSON = "not_json"
    NOT_UTF8 = "not_utf8"
    WRONG_VERSION = "wrong_version"
    TRUNCATED = "truncated"


@dataclass(frozen=True, slots=True)
class Fault:
    """One scheduled fault of one site's device, in simulated ms since the epoch."""

    site: str
    kind: FaultKind
    start_ms: int
    end_ms: int
    offset_ms: int = 0
    payload: MalformedKind = MalformedKind.NOT_JSON
    bin: str = ""
    fraction: float = 0.0

    def covers(self, ts_ms: int) -> bool:
        """Whether `ts_ms` lies in [start, end)."""
        return self.start_ms <= ts_ms < self.end_ms


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """One row of faults.csv: a fault as it was applied."""

    tenant: str
    site: str
    device: str
    kind: FaultKind
    start_ms: int
    end_ms: int
    detail: str


def parse_duration_ms(text: str | float) -> int:
    """Milliseconds of `90s`, `30m`, `6h`, `2d`, `1w`, `250ms` or a plain number of seconds."""
    try:
        return core_time.parse_duration_ms(text)
    except ValueError as exc:
        raise FaultError(str(exc)) from exc


def _instant_ms(raw: Any, origin_ms: int, where: str) -> int:
    """A time: `+duration` from `origin_ms`, an ISO date-time (naive = UTC), or a TOML datetime."""
    if isinstance(raw, str) and raw.strip().startswith("+"):
        return origin_ms + parse_duration_ms(raw.strip()[1:])
    when = raw
    if isinstance(raw, str):
        try:
            when = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise FaultError(f"{where}: cannot read {raw!r} as a time") from exc
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        return round(when.timestamp() * 1000)
    raise FaultError(f"{where}: a time is `+30m` or an ISO date-time, not {raw!r}")


def _enum(kind: type[StrEnum], raw: Any, where: str) -> Any:
    """An enum member from its value, or a FaultError listing the choices."""
    try:
        return kind(raw)
    except ValueError as exc:
        choices = ", ".join(member.value for member in kind)
        raise FaultError(f"{where}: {raw!r} is not one of {choices}") from exc


def parse_fault(doc: Mapping[str, Any], origin_ms: int) -> Fault:
    """One `[[faults]]` table; times relative to `origin_ms` (the scenario start)."""
    known = {"site", "device", "kind", "start", "end", "duration", "offset_s", "payload"}
    known |= {"bin", "fraction"}
    where = f"fault {doc.get('kind')!r} at site {doc.get('site')!r}"
    unknown = sorted(set(doc) - known)
    if unknown:
        raise FaultError(f"{where}: unknown keys {', '.join(unknown)}")
    if not isinstance(doc.get("site"), str):
        raise FaultError(f"{where}: `site` is required")
    kind = _enum(FaultKind, doc.get("kind"), where)
    if "start" not in doc:
        raise FaultError(f"{where}: `start` is required")
    start = _instant_ms(doc["start"], origin_ms, where)
    if kind in (FaultKind.MALFORMED, FaultKind.THEFT):
        end = start
    elif "end" in doc:
        end = _instant_ms(doc["end"], origin_ms, where)
    elif "duration" in doc:
        end = start + parse_duration_ms(doc["duration"])
    else:
        raise FaultError(f"{where}: give `end` or `duration`")
    if kind not in (FaultKind.MALFORMED, FaultKind.THEFT) and end <= start:
        raise FaultError(f"{where}: ends before it starts")
    offset = 0
    if kind is FaultKind.CLOCK_SKEW:
        raw = doc.get("offset_s")
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw == 0:
            raise FaultError(f"{where}: `offset_s` (non-zero seconds) is required")
        offset = round(raw * 1000)
    payload = _enum(MalformedKind, doc.get("payload", MalformedKind.NOT_JSON.value), where)
    if kind is FaultKind.THEFT:
        bin_name, fraction = doc.get("bin"), doc.get("fraction")
        if not isinstance(bin_name, str) or not bin_name:
            raise FaultError(f"{where}: `bin` (the bin's name) is required")
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise FaultError(f"{where}: `fraction` (of the stock, 0 to 1) is required")
        if not 0 < fraction < 1:
            raise FaultError(f"{where}: `fraction` must lie between 0 and 1")
        return Fault(doc["site"], kind, start, end, bin=bin_name, fraction=float(fraction))
    return Fault(doc["site"], kind, start, end, offset, payload)


def load_schedule(path: Path, origin_ms: int) -> list[Fault]:
    """Read a TOML (or, by its `.json` suffix, JSON) fault schedule."""
    try:
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (OSError, ValueError) as exc:
        raise FaultError(f"cannot read the fault schedule {path}: {exc}") from exc
    entries = doc.get("faults") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise FaultError(f"{path}: expected a list `faults` of tables")
    return sorted((parse_fault(e, origin_ms) for e in entries), key=_order)


def _order(fault: Fault) -> tuple[int, str, str]:
    """Faults in time order, then by site and kind, so schedules compare equal."""
    return fault.start_ms, fault.site, fault.kind.value


def check_schedule(
    faults: Sequence[Fault], sites: Iterable[str], start_ms: int, end_ms: int, step_ms: int
) -> None:
    """Refuse faults of unknown sites, outside the window, or that would merge readings."""
    known = set(sites)
    for fault in faults:
        where = f"{fault.kind.value} fault of {fault.site!r}"
        if fault.site not in known:
            raise FaultError(f"{where}: no such site (sites: {', '.join(sorted(known))})")
        if not start_ms <= fault.start_ms <= fault.end_ms <= end_ms:
            raise FaultError(f"{where}: not inside the simulated window")
        if fault.kind is FaultKind.CLOCK_SKEW and fault.offset_ms % step_ms == 0:
            # A shift by whole steps would land readings on the timestamps of others.
            raise FaultError(f"{where}: the offset must not be a multiple of the sampling step")
    for kind in (FaultKind.CLOCK_SKEW, FaultKind.REBOOT, FaultKind.OUTAGE):
        for site in known:
            spans = sorted(
                (f.start_ms, f.end_ms) for f in faults if f.site == site and f.kind is kind
            )
            for (_, end), (start, _) in itertools.pairwise(spans):
                if start < end:
                    raise FaultError(f"{kind.value} faults of {site!r} overlap")


def generate(
    sites: Sequence[str],
    start_ms: int,
    end_ms: int,
    step_ms: int,
    *,
    rate_per_day: float,
    seed: int,
    min_reboot_ms: int = 0,
) -> list[Fault]:
    """A random schedule: about `rate_per_day` faults per device per simulated day, from `seed`."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(FAULT_SEED_STREAM,)))
    span = end_ms - start_ms
    days = span / MS_PER_DAY
    out: list[Fault] = []
    kinds = list(RANDOM_KINDS)
    for site in sites:
        taken: list[tuple[int, int]] = []
        for _ in range(int(rng.poisson(rate_per_day * days))):
            kind = kinds[int(rng.integers(len(kinds)))]
            # Seconds resolution; late enough that the device ran first, early enough to recover.
            begin = start_ms + 1000 * int(rng.integers(span // 20_000, span * 3 // 4_000))
            length = _length(kind, rng, step_ms, min_reboot_ms)
            finish = min(begin + length, end_ms - 2 * step_ms)
            if finish < begin or any(begin < e and s < finish + step_ms for s, e in taken):
                continue
            if kind is FaultKind.REBOOT and finish - begin < max(min_reboot_ms, 3 * step_ms):
                continue
            taken.append((begin, finish))
            offset = 0
            if kind is FaultKind.CLOCK_SKEW:
                # Mostly behind (a Pi that booted without NTP), a few seconds off whole steps.
                offset = -1000 * int(rng.integers(61, 1801))
                if offset % step_ms == 0:
                    offset -= 7_000
            payload = list(MalformedKind)[int(rng.integers(len(MalformedKind)))]
            out.append(Fault(site, kind, begin, finish, offset, payload))
    return sorted(out, key=_order)


def _length(kind: FaultKind, rng: np.random.Generator, step_ms: int, min_reboot_ms: int) -> int:
    """A random duration for a fault of `kind` (0 for a malformed message)."""
    minute = MS_PER_MINUTE
    if kind is FaultKind.MALFORMED:
        return 0
    if kind is FaultKind.OUTAGE:
        return minute * int(rng.integers(10, 181))
    if kind is FaultKind.REBOOT:
        return max(minute * int(rng.integers(15, 61)), 3 * step_ms, min_reboot_ms)
    return minute * int(rng.integers(60, 721))


def malformed_payload(fault: Fault, device: str, number: int) -> bytes:
    """The garbage a malformed fault publishes; `number` tells copies apart in dead letters."""
    if fault.payload is MalformedKind.NOT_UTF8:
        return b"\xff\xfe\x00shinshu-sim malformed #" + str(number).encode()
    if fault.payload is MalformedKind.NOT_JSON:
        return f"shinshu-sim malformed #{number}: this is not JSON".encode()
    doc = {
        "v": 99 if fault.payload is MalformedKind.WRONG_VERSION else 1,
        "device": device,
        "seq": 1_000_000 + number,
        "sent": fault.start_ms,
        "readings": [{"t": fault.start_ms, "k": "air_temperature", "v": 20.0}],
    }
    body = json.dumps(doc, separators=(",", ":")).encode()
    if fault.payload is MalformedKind.TRUNCATED:
        return body[: len(body) // 2]
    return body


def write_faults(directory: Path, records: Sequence[FaultRecord]) -> Path:
    """Write faults.csv (header row even when empty) into `directory`."""
    ordered = sorted(records, key=lambda r: (r.start_ms, r.site, r.device, r.kind.value))
    return write_csv(directory / "faults.csv", FaultRecord, ordered)
