"""The landslide watch: every site's Soil Water Index from its stored rain readings, its level
against the site's thresholds, and one alert each time the level rises.

Each pass reads, for every tenant's site with a rain gauge (sensor kind `rainfall`), the rain of
the last `spin_up_ms` (14 days) and runs the tank model over it from dry storage, on a grid of
10-minute steps ending at the last complete step before now. A rainfall reading is the rain
since the gauge's previous reading (`edge.protocol`), so it is counted in the step its time
falls in (a step is (end − 10 min, end]); a step without readings is dry — rain during a gap in
reporting arrives with the next reading, in the step of that reading.

Why 14 days from dry: the run has no stored state, so every pass gives the same answer for the
same readings (a restart changes nothing), and the first days of the window serve as spin-up.
With JMA's parameters the third tank loses at least 1 % of its storage per hour, so after 336 h
less than 4 % of any storage the window leaves out is still in the tanks (exp(−3.36)); the
tests measure the resulting SWI difference against a run from a wet start (docs/landslide.md).

Alerts: each step of the last `horizon_ms` (24 h) whose level is higher than the step before
raises one alert (kind `landslide_risk` for caution and warning, `landslide_danger` for
danger), stamped at the end of that step, so every later pass rewrites the same alert rather
than adding one, and it is news when first raised (the notifier looks at the last 24 h).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.settings import Settings
from core.time import MS_PER_DAY, MS_PER_MINUTE, from_ms, to_ms
from edge.protocol import SensorKind
from models.landslide.levels import Level, Thresholds, level_rises, levels
from models.landslide.rainfall import r60
from models.landslide.settings import read_thresholds
from models.landslide.tank import run_tanks
from storage import open_store
from storage.alert_types import Alert, AlertKind
from storage.alerts import AlertStore
from storage.errors import DatabaseNotFoundError
from storage.layout import DEVICE, SENSOR, SITE, TENANT
from storage.protocol import ReadingStore
from storage.query import Aggregate, Buckets, Function, Rows, Select, match

log = logging.getLogger(__name__)

STEP_MINUTES = 10.0
STEP_MS = int(STEP_MINUTES * MS_PER_MINUTE)
SPIN_UP_MS = 14 * MS_PER_DAY
HORIZON_MS = MS_PER_DAY


@dataclass(frozen=True, slots=True)
class SiteLevel:
    """A site's landslide state at the end of the last complete step (`at_ms`)."""

    tenant: str
    site: str
    level: Level
    swi_mm: float
    r60_mm: float
    at_ms: int
    # The gauge the site's rain is taken from, and its newest reading (a stale gauge shows).
    device: str
    sensor: str
    last_reading_ms: int
    default_thresholds: bool


@dataclass(frozen=True, slots=True)
class _Run:
    """One site's model run over the window: per step, its end, SWI, R60 and level."""

    tenant: str
    site: str
    device: str
    sensor: str
    last_reading_ms: int
    default_thresholds: bool
    times_ms: np.ndarray
    swi_mm: np.ndarray
    r60_mm: np.ndarray
    levels: list[Level]

    def current(self) -> SiteLevel:
        """The state at the last step."""
        return SiteLevel(
            self.tenant,
            self.site,
            self.levels[-1],
            float(self.swi_mm[-1]),
            float(self.r60_mm[-1]),
            int(self.times_ms[-1]),
            self.device,
            self.sensor,
            self.last_reading_ms,
            self.default_thresholds,
        )


Gauge = tuple[str, str, str, str]  # tenant, site, device, sensor


@dataclass(frozen=True, slots=True)
class _Gauge:
    """A gauge's rain in the window: (step end, mm) of the steps with readings, how many
    readings, and the newest one's time."""

    steps: list[tuple[int, float]]
    readings: int
    last_ms: int


def _key(serie: Rows) -> Gauge:
    """The gauge a group of the answer is of."""
    tags = serie.tags
    return tags[TENANT], tags[SITE], tags[DEVICE], tags[SENSOR]


def rain_per_step(
    points: list[tuple[int, float]], *, origin_ms: int, steps: int, step_ms: int = STEP_MS
) -> np.ndarray:
    """Rain in each step (origin + i·step, origin + (i+1)·step] from readings of rain since the
    previous reading; readings outside the grid are left out, negative or missing ones too."""
    rain = np.zeros(steps)
    if not points:
        return rain
    times = np.array([t for t, _ in points], dtype=np.int64)
    values = np.array([v for _, v in points], dtype=float)
    index = -((origin_ms - times) // step_ms) - 1  # ceil((t − origin) / step) − 1
    keep = (index >= 0) & (index < steps) & np.isfinite(values) & (values >= 0)
    np.add.at(rain, index[keep], values[keep])
    return rain


def _reason(
    site: str, rise: tuple[Level, Level, float, float], *, gauge: str, default: bool
) -> tuple[str, str]:
    """The alert's reason in English and Japanese."""
    old, new, swi, r60_mm = rise
    note_en = " (default thresholds: none set for this site)" if default else ""
    note_ja = "（この拠点のしきい値は未設定のため既定値で判定）" if default else ""
    en = (
        f"landslide level at {site} rose from {old.en} to {new.en}: soil water index "
        f"{swi:.1f} mm, 60-minute rainfall {r60_mm:.1f} mm (rain gauge {gauge}){note_en}"
    )
    ja = (
        f"拠点 {site} の土砂災害レベルが {old.ja} から {new.ja} に上がりました。"
        f"土壌雨量指数 {swi:.1f} mm、60分間雨量 {r60_mm:.1f} mm（雨量計 {gauge}）{note_ja}"
    )
    return en, ja


class LandslideWatch:
    """Computes every site's landslide level from stored rain and raises alerts on rises."""

    def __init__(
        self,
        store: ReadingStore,
        alerts: AlertStore,
        *,
        clock: Callable[[], float] = time.time,
        spin_up_ms: int = SPIN_UP_MS,
        horizon_ms: int = HORIZON_MS,
    ) -> None:
        """Read rain and thresholds from `store`, write alerts to `alerts`."""
        self._store = store
        self._alerts = alerts
        self._clock = clock
        self._spin_up_ms = spin_up_ms
        self._horizon_ms = horizon_ms

    def _grid(self) -> tuple[int, int]:
        """(origin, steps): the window's steps end at the last complete step before now."""
        now_ms = int(self._clock() * 1000)
        end_ms = now_ms // STEP_MS * STEP_MS
        steps = self._spin_up_ms // STEP_MS
        return end_ms - steps * STEP_MS, steps

    def _rows(self, select: Select) -> list[Rows]:
        """The answer of a read; a database not created yet holds nothing."""
        try:
            return self._store.rows(select)
        except DatabaseNotFoundError:
            return []

    def _gauges(self, tenant: str | None, origin_ms: int, end_ms: int) -> dict[Gauge, _Gauge]:
        """Each gauge's rain per step of the window, as the store sums it, and its newest
        reading time."""
        where = match(tenant=tenant)
        group = (TENANT, SITE, DEVICE, SENSOR)
        # Buckets start 1 ms after each step end, so that each covers (end − 10 min, end]: a
        # reading stamped on a step's end is rain of that step. The store adds them up, so a
        # pass reads one row per gauge and step however often the gauge reports.
        summed = self._rows(
            Select(
                (SensorKind.RAINFALL.value,),
                where,
                aggregates=(
                    Aggregate(Function.SUM, alias="rain"),
                    Aggregate(Function.COUNT, alias="n"),
                ),
                start_ms=origin_ms + 1,
                end_ms=end_ms + 1,
                group_by=group,
                buckets=Buckets(STEP_MS, offset_ms=1),
            )
        )
        newest = self._rows(
            Select(
                (SensorKind.RAINFALL.value,),
                where,
                aggregates=(Aggregate(Function.LAST, alias="last"),),
                start_ms=origin_ms + 1,
                end_ms=end_ms + 1,
                group_by=group,
            )
        )
        last_ms = {_key(s): int(s.values[0][0]) for s in newest if s.values}
        out: dict[Gauge, _Gauge] = {}
        for serie in summed:
            key = _key(serie)
            steps = [
                (int(row["time"]) - 1 + STEP_MS, float(row["rain"]), int(row["n"] or 0))
                for row in serie.records()
                if row["rain"] is not None
            ]
            count = sum(n for _, _, n in steps)
            if count and key in last_ms:
                out[key] = _Gauge([(t, v) for t, v, _ in steps], count, last_ms[key])
        return out

    def _runs(self, tenant: str | None) -> list[_Run]:
        """The model run of every site with rain readings in the window (of one tenant)."""
        origin_ms, steps = self._grid()
        end_ms = origin_ms + steps * STEP_MS
        gauges = self._gauges(tenant, origin_ms, end_ms)
        # A site with several gauges uses the one with the most readings (ties: the first id),
        # so that two gauges of one site are not added up.
        chosen: dict[tuple[str, str], Gauge] = {}
        for key in sorted(gauges):
            site = key[:2]
            if site not in chosen or gauges[key].readings > gauges[chosen[site]].readings:
                chosen[site] = key
        thresholds = read_thresholds(self._store, tenant) if chosen else {}
        times = origin_ms + STEP_MS * np.arange(1, steps + 1, dtype=np.int64)
        runs = []
        for site, key in sorted(chosen.items()):
            try:
                gauge = gauges[key]
                rain = rain_per_step(gauge.steps, origin_ms=origin_ms, steps=steps)
                swi = run_tanks(rain, step_minutes=STEP_MINUTES).swi_mm
                r60_mm = r60(rain, step_minutes=STEP_MINUTES)
                limits = thresholds.get(site)
                series = levels(swi, r60_mm, limits or Thresholds())
                runs.append(
                    _Run(
                        *key,
                        last_reading_ms=gauge.last_ms,
                        default_thresholds=limits is None,
                        times_ms=times,
                        swi_mm=swi,
                        r60_mm=r60_mm,
                        levels=series,
                    )
                )
            except Exception:
                log.exception("landslide level of %s/%s failed", *site)
        return runs

    def levels(self, tenant: str | None = None) -> list[SiteLevel]:
        """The current level of every site with rain readings (of `tenant`, or of all)."""
        return [run.current() for run in self._runs(tenant)]

    def run_once(self) -> list[Alert]:
        """One pass over every tenant's sites; returns the alerts it wrote."""
        raised: list[Alert] = []
        for run in self._runs(None):
            raised.extend(self._rises(run))
        if raised:
            self._alerts.write(raised)
        return raised

    def _rises(self, run: _Run) -> list[Alert]:
        """An alert per level rise within the horizon."""
        times = run.times_ms.tolist()
        start = int(np.searchsorted(run.times_ms, times[-1] - self._horizon_ms, side="right"))
        before = run.levels[start - 1] if start > 0 else Level.NONE
        rises = level_rises(
            [from_ms(t) for t in times[start:]],
            run.levels[start:],
            run.swi_mm[start:],
            run.r60_mm[start:],
            before=before,
        )
        out = []
        for rise in rises:
            index = times.index(to_ms(rise.time))
            # The episode lasts while the level stays at least as high; its last step is the
            # alert's newest evidence.
            last = index
            while last + 1 < len(times) and run.levels[last + 1] >= rise.new:
                last += 1
            en, ja = _reason(
                run.site,
                (rise.old, rise.new, rise.swi_mm, rise.r60_mm),
                gauge=f"{run.device}/{run.sensor}",
                default=run.default_thresholds,
            )
            kind = AlertKind.LANDSLIDE_DANGER if rise.new is Level.DANGER else AlertKind.LANDSLIDE
            out.append(
                Alert(
                    run.tenant,
                    run.site,
                    run.device,
                    run.sensor,
                    kind,
                    times[index],
                    int(rise.new) / int(Level.DANGER),
                    en,
                    times[last],
                    reason_ja=ja,
                )
            )
        return out


def run_landslide(watch: LandslideWatch, stop: threading.Event, every_s: float) -> None:
    """Evaluate every site every `every_s` until `stop` is set; a failed pass is logged."""
    while not stop.is_set():
        try:
            watch.run_once()
        except Exception:
            log.exception("landslide watch failed; trying again")
        stop.wait(every_s)


def start_landslide(settings: Settings, stop: threading.Event) -> threading.Thread:
    """The landslide watch in a thread of its own on its own store, until `stop` is set."""
    store = open_store(settings)
    watch = LandslideWatch(store, AlertStore(store))
    every_s = settings.alerts_landslide_s
    thread = threading.Thread(target=run_landslide, args=(watch, stop, every_s), daemon=True)
    thread.start()
    return thread
