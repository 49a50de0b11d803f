"""Alerts and acknowledgements in a real InfluxDB: ids, overwrites, states and paging."""

from __future__ import annotations

import pytest
from support import Services, make_influx

from edge.protocol import SensorKind
from storage.alert_types import Alert, AlertKind, AlertNotFoundError, AlertState, raised_ms_of
from storage.alerts import AlertStore, alert_line

pytestmark = pytest.mark.integration

T0 = 1_790_000_000_000


def alert(i: int, *, tenant: str = "acme", site: str = "plant", reason: str = "test") -> Alert:
    """The i-th alert, a minute after the previous one."""
    at = T0 + i * 60_000
    return Alert(tenant, site, "gw", f"bin{i % 3}_weight", AlertKind.DROP, at, 0.5, reason, at)


def test_ids_are_deterministic_and_carry_the_raised_time() -> None:
    """Same alert, same id; the id gives back its time; anything else is not an alert id."""
    first, again = alert(1), alert(1)
    assert first.id == again.id and first.id != alert(2).id
    assert raised_ms_of(first.id) == first.ts_ms
    for bad in ("", "x", "0" * 12, "zz" * 6 + "-" + "0" * 16, first.id + "0"):
        with pytest.raises(AlertNotFoundError):
            raised_ms_of(bad)


def test_line_protocol_escapes_tags_and_strings() -> None:
    """Spaces and commas in tags, quotes and backslashes in the reason stay data."""
    line = alert_line(alert(0, site="main plant,2", reason='said "hi" \\ bye'))
    assert "site=main\\ plant\\,2" in line
    assert 'reason="said \\"hi\\" \\\\ bye"' in line


def test_rewriting_an_alert_overwrites_it_and_history_reads_back(
    services: Services, database: str
) -> None:
    """An alert written twice (later last_seen) is one point; readings come back in order."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    alerts = AlertStore(store)
    first = alert(0)
    alerts.write([first])
    alerts.write([Alert(**{**_fields(first), "last_seen_ms": first.ts_ms + 600_000})])
    (stored,) = alerts.bin_alerts("acme", "plant", "gw", ["bin0_weight"], T0 - 1)
    assert stored.id == first.id and stored.last_seen_ms == first.ts_ms + 600_000
    assert alerts.bin_alerts("acme", "plant", "gw", ["other"], T0 - 1) == []
    lines = [
        f"bin_weight,device=gw,sensor=w,site=plant,tenant=acme value={i}.5 {T0 + i}"
        for i in range(5)
    ]
    assert store.write_lines(lines) == []
    got = alerts.history(
        "acme", "plant", "gw", "w", SensorKind.BIN_WEIGHT, start_ms=T0 + 1, end_ms=T0 + 4
    )
    assert got == [(T0 + 1, 1.5), (T0 + 2, 2.5), (T0 + 3, 3.5)]


def _fields(a: Alert) -> dict[str, object]:
    return {name: getattr(a, name) for name in Alert.__slots__}


def test_states_and_paging_over_many_alerts(services: Services, database: str) -> None:
    """250 alerts, 240 acknowledged in one millisecond: open, acknowledged and all add up."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    alerts = AlertStore(store, clock=lambda: T0 / 1000 + 86_400)
    written = [alert(i) for i in range(250)]
    alerts.write(written)
    alerts.write([alert(0, tenant="other")])
    for a in written[10:]:
        assert alerts.acknowledge("acme", a.id, "key1").acknowledged_by == "key1"
    open_ = alerts.list_alerts("acme", AlertState.OPEN, limit=1000)
    assert [v.alert.id for v in open_] == [a.id for a in reversed(written[:10])]
    acked = alerts.list_alerts("acme", AlertState.ACKNOWLEDGED, limit=1000)
    assert len(acked) == 240 and len({v.acknowledged_ms for v in acked}) == 240
    assert len(alerts.list_alerts("acme", AlertState.ALL, limit=1000)) == 250
    assert len(alerts.list_alerts("acme", AlertState.OPEN, limit=3)) == 3
    assert alerts.list_alerts("acme", AlertState.ALL, site="elsewhere") == []
    with pytest.raises(AlertNotFoundError):
        alerts.get("acme", alert(0, tenant="other").id)
    assert alerts.get("other", alert(0, tenant="other").id).acknowledged_ms is None
