"""Threshold rules (operators' own alerts: "soil moisture below 20 % for 6 h"), in the store.

A rule is a point of the measurement `alert_rules`, tagged with tenant and rule id; its body is
JSON in `spec`, with who changed it (`by`) and how (`change`). As for the asset registry, the
newest point of a rule is the one in force, a deleted rule's last point says `delete`, and the
history of a rule is the list of its points, so the API and the alerts service read the same
rules without a database of their own.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from enum import StrEnum

from edge.protocol import SensorKind
from storage.errors import StoreError
from storage.layout import TENANT
from storage.points import Point
from storage.protocol import ReadingStore
from storage.query import Aggregate, Function, Select, match

RULES_MEASUREMENT = "alert_rules"
RULE = "rule"


class Comparison(StrEnum):
    """Whether a rule fires below or above its threshold."""

    BELOW = "below"
    ABOVE = "above"


class RuleError(StoreError):
    """A rule that cannot be stored or read as given."""


@dataclass(frozen=True, slots=True)
class ThresholdRule:
    """Readings of `kind` (at `site`, or every site; of `device`, or every device) beyond
    `threshold` for at least `duration_min` minutes raise one alert per episode.

    The episode ends only when the value is back past the threshold by `hysteresis`, so a value
    hovering around the threshold is one episode, not many.
    """

    rule: str
    name: str
    kind: SensorKind
    comparison: Comparison
    threshold: float
    duration_min: float
    hysteresis: float = 0.0
    site: str = ""
    device: str = ""
    severity: str = "warning"

    def breached(self, value: float) -> bool:
        """Whether `value` is beyond the threshold."""
        if self.comparison is Comparison.BELOW:
            return value < self.threshold
        return value > self.threshold

    def cleared(self, value: float) -> bool:
        """Whether `value` is back past the threshold by the hysteresis (the episode ends)."""
        if self.comparison is Comparison.BELOW:
            return value > self.threshold + self.hysteresis
        return value < self.threshold - self.hysteresis


def _point(tenant: str, rule: ThresholdRule, *, by: str, change: str, at_ms: int) -> Point:
    spec = asdict(rule)
    del spec["rule"]
    spec["kind"] = rule.kind.value
    spec["comparison"] = rule.comparison.value
    fields = {"spec": json.dumps(spec, ensure_ascii=False), "by": by, "change": change}
    return Point(RULES_MEASUREMENT, {RULE: rule.rule, TENANT: tenant}, fields, at_ms)


def write_rule(
    store: ReadingStore,
    tenant: str,
    rule: ThresholdRule,
    *,
    by: str,
    change: str = "update",
    now_ms: int | None = None,
) -> None:
    """Store a new version of `rule` (`change`: create, update or delete)."""
    at_ms = int(time.time() * 1000) if now_ms is None else now_ms
    refused = store.write_points([_point(tenant, rule, by=by, change=change, at_ms=at_ms)])
    if refused:
        raise RuleError(f"the store refused the rule: {refused[0].reason}")


def _decode(rule_id: str, spec: str) -> ThresholdRule:
    values = json.loads(spec)
    values["kind"] = SensorKind(values["kind"])
    values["comparison"] = Comparison(values["comparison"])
    return ThresholdRule(rule=rule_id, **values)


def read_rules(store: ReadingStore, tenant: str | None = None) -> dict[str, list[ThresholdRule]]:
    """The rules in force, by tenant (of one tenant, or of all); unreadable ones are skipped."""
    answer = store.rows(
        Select(
            (RULES_MEASUREMENT,),
            match(tenant=tenant),
            aggregates=(
                Aggregate(Function.LAST, "spec", "spec"),
                Aggregate(Function.LAST, "change", "change"),
            ),
            group_by=(TENANT, RULE),
        )
    )
    out: dict[str, list[ThresholdRule]] = {}
    for serie in answer:
        row = next(serie.records())
        if row.get("change") == "delete":
            continue
        try:
            rule = _decode(serie.tags[RULE], row["spec"])
        except (ValueError, KeyError, TypeError):
            continue
        out.setdefault(serie.tags[TENANT], []).append(rule)
    for rules in out.values():
        rules.sort(key=lambda r: r.rule)
    return out
