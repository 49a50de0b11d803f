"""Per-site landslide settings in the store: thresholds, and whether the site shares its level.

As for threshold rules (`storage.rules`) and the asset registry, each setting is a point, tagged
with tenant and site, stamped with the time of the change and who made it (`by`, `change`); the
newest point is the one in force, so the API and the alerts service read the same settings
without a database of their own, and the history of a setting is the list of its points.

- `landslide_thresholds`: `spec` is the thresholds as JSON (`thresholds_to_json`). A site
  without a point uses `levels.Thresholds()` (placeholders, see docs/landslide.md); `change` =
  reset returns a site to them.
- `disaster_sharing`: `shared` (boolean) says whether the site's landslide level is shown to
  the prefecture and on the public disaster page.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from models.landslide.errors import LandslideError
from models.landslide.levels import CriticalLine, Level, Thresholds
from storage.errors import StoreError
from storage.layout import SITE, TENANT
from storage.points import Point
from storage.protocol import ReadingStore
from storage.query import Aggregate, Function, Select, match

THRESHOLDS_MEASUREMENT = "landslide_thresholds"
SHARING_MEASUREMENT = "disaster_sharing"
RESET = "reset"
_LIMITS = ("caution_swi_mm", "caution_r60_mm", "warning_swi_mm", "warning_r60_mm")
_LIMITS += ("danger_swi_mm", "danger_r60_mm")


class SettingsError(StoreError):
    """The store refused a setting."""


def thresholds_to_json(thresholds: Thresholds) -> dict[str, Any]:
    """Thresholds as plain data: the six limits (None: off), the critical line and its level."""
    line = thresholds.critical_line
    return {
        **{name: getattr(thresholds, name) for name in _LIMITS},
        "critical_line": None
        if line is None
        else [line.swi1_mm, line.r60_1_mm, line.swi2_mm, line.r60_2_mm],
        "critical_line_level": thresholds.critical_line_level.en,
    }


def thresholds_from_json(values: dict[str, Any]) -> Thresholds:
    """Thresholds from `thresholds_to_json` output; LandslideError if they are not valid."""
    try:
        limits = {
            name: None if values.get(name) is None else float(values[name]) for name in _LIMITS
        }
        line = values.get("critical_line")
        critical = None if line is None else CriticalLine(*(float(v) for v in line))
        level = Level.parse(str(values.get("critical_line_level", "danger")))
    except (TypeError, ValueError) as exc:
        raise LandslideError(
            f"しきい値を読めません ({exc})", f"unreadable thresholds ({exc})"
        ) from exc
    return Thresholds(**limits, critical_line=critical, critical_line_level=level)


@dataclass(frozen=True, slots=True)
class SiteThresholds:
    """The thresholds in force at a site; `at_ms`/`by` None while the defaults apply."""

    site: str
    thresholds: Thresholds
    at_ms: int | None = None
    by: str | None = None

    @property
    def default(self) -> bool:
        """Whether no operator has set thresholds for the site (or they were reset)."""
        return self.at_ms is None


def _now(now_ms: int | None) -> int:
    return int(time.time() * 1000) if now_ms is None else now_ms


def _write(store: ReadingStore, point: Point) -> None:
    refused = store.write_points([point])
    if refused:
        raise SettingsError(f"the store refused the setting: {refused[0].reason}")


def write_thresholds(
    store: ReadingStore,
    tenant: str,
    site: str,
    thresholds: Thresholds | None,
    *,
    by: str,
    now_ms: int | None = None,
) -> None:
    """Store a new version of the site's thresholds; None returns the site to the defaults."""
    spec = thresholds_to_json(thresholds or Thresholds())
    fields = {
        "spec": json.dumps(spec, ensure_ascii=False),
        "by": by,
        "change": "update" if thresholds is not None else RESET,
    }
    _write(store, Point(THRESHOLDS_MEASUREMENT, {SITE: site, TENANT: tenant}, fields, _now(now_ms)))


def read_thresholds(
    store: ReadingStore, tenant: str | None = None
) -> dict[tuple[str, str], Thresholds]:
    """The thresholds set by operators, by (tenant, site); reset or unreadable ones left out."""
    answer = store.rows(
        Select(
            (THRESHOLDS_MEASUREMENT,),
            match(tenant=tenant),
            aggregates=(
                Aggregate(Function.LAST, "spec", "spec"),
                Aggregate(Function.LAST, "change", "change"),
            ),
            group_by=(TENANT, SITE),
        )
    )
    out: dict[tuple[str, str], Thresholds] = {}
    for serie in answer:
        row = next(serie.records())
        if row.get("change") == RESET:
            continue
        try:
            out[serie.tags[TENANT], serie.tags[SITE]] = thresholds_from_json(
                json.loads(row["spec"])
            )
        except (LandslideError, ValueError, TypeError, KeyError):
            continue  # a version written by another tool: the defaults rather than no check
    return out


def site_thresholds(store: ReadingStore, tenant: str, site: str) -> SiteThresholds:
    """The thresholds in force at one site, with when and by whom they were set."""
    answer = store.rows(
        Select(
            (THRESHOLDS_MEASUREMENT,),
            match(tenant=tenant, site=site),
            fields=("spec", "by", "change"),
            descending=True,
            limit=1,
        )
    )
    rows = [row for serie in answer for row in serie.records()]
    if not rows or rows[0].get("change") == RESET:
        return SiteThresholds(site, Thresholds())
    row = rows[0]
    try:
        thresholds = thresholds_from_json(json.loads(row["spec"]))
    except (LandslideError, ValueError, TypeError, KeyError):
        return SiteThresholds(site, Thresholds())
    return SiteThresholds(site, thresholds, int(row["time"]), str(row.get("by") or ""))


def write_sharing(
    store: ReadingStore,
    tenant: str,
    site: str,
    shared: bool,
    *,
    by: str,
    now_ms: int | None = None,
) -> None:
    """Store whether the site shares its landslide level (prefecture and public page)."""
    fields = {"shared": bool(shared), "by": by, "change": "share" if shared else "unshare"}
    _write(store, Point(SHARING_MEASUREMENT, {SITE: site, TENANT: tenant}, fields, _now(now_ms)))


def read_sharing(store: ReadingStore, tenant: str | None = None) -> set[tuple[str, str]]:
    """The (tenant, site) pairs whose newest sharing point says shared."""
    answer = store.rows(
        Select(
            (SHARING_MEASUREMENT,),
            match(tenant=tenant),
            aggregates=(Aggregate(Function.LAST, "shared", "shared"),),
            group_by=(TENANT, SITE),
        )
    )
    out: set[tuple[str, str]] = set()
    for serie in answer:
        row = next(serie.records())
        # Only a stored true shares: anything else (false, a stray type) keeps the site private.
        if row.get("shared") is True or row.get("shared") == 1:
            out.add((serie.tags[TENANT], serie.tags[SITE]))
    return out
