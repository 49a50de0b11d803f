"""Device spool drops: a counter by tenant grown by what each device's total adds."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from edge.protocol import DeviceTopic
from ingest.spooldrops import SpoolDrops


def _drops() -> tuple[SpoolDrops, CollectorRegistry]:
    registry = CollectorRegistry()
    counter = Counter("drops", "test", ["tenant"], registry=registry)
    return SpoolDrops(counter), registry


def _value(registry: CollectorRegistry, tenant: str) -> float:
    return registry.get_sample_value("drops_total", {"tenant": tenant}) or 0.0


def test_increases_of_each_devices_total_are_counted_by_tenant() -> None:
    """The first total is the baseline; later ones add their increase; devices are apart."""
    drops, registry = _drops()
    a, b = DeviceTopic("alpha", "s", "pi-1"), DeviceTopic("alpha", "s", "pi-2")
    assert drops.report(a, 5) == 0
    assert drops.report(a, 12) == 7
    assert drops.report(b, 100) == 0
    assert drops.report(b, 103) == 3
    assert drops.report(DeviceTopic("beta", "s", "pi-1"), 4) == 0
    assert _value(registry, "alpha") == 10.0
    assert _value(registry, "beta") == 0.0


def test_a_repeated_report_adds_nothing_and_a_reset_counts_from_zero() -> None:
    """A status delivered twice is not counted twice; a new spool's total counts in full."""
    drops, registry = _drops()
    device = DeviceTopic("alpha", "s", "pi-1")
    drops.report(device, 20)
    assert drops.report(device, 20) == 0
    assert drops.report(device, 6) == 6  # the agent's spool was replaced: 6 new drops
    assert drops.report(device, None) == 0
    assert _value(registry, "alpha") == 6.0
