"""Aggregates and raw readings agree with the stored points, read independently from InfluxDB."""

from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from dashboard.app import create_app
from dashboard.keys import Role
from storage.readings import Interval
from storage.rollup_service import run_round

pytestmark = pytest.mark.integration

END = "2025-06-03T00:00:00Z"


def _stored(env: ApiEnv, site: str, device: str, sensor: str) -> list[tuple[int, float]]:
    results = env.store.query(
        f'SELECT "value" FROM "air_temperature" WHERE "tenant" = \'alpha\' AND '
        f"\"site\" = '{site}' AND \"device\" = '{device}' AND \"sensor\" = '{sensor}'"
    )
    return [(int(t), float(v)) for t, v in results[0]["series"][0]["values"]]


@pytest.mark.parametrize("interval", list(Interval))
def test_aggregates_equal_those_computed_from_raw_points(
    api_env: ApiEnv, interval: Interval
) -> None:
    """mean/min/max/count per bucket equal Python's over the raw points, to 1e-9."""
    site, device, sensor = api_env.first_series("alpha")
    points = _stored(api_env, site, device, sensor)
    expected: dict[int, list[float]] = {}
    for t, v in points:
        expected.setdefault(t - t % interval.ms, []).append(v)
    url = f"/api/v1/tenants/alpha/sites/{site}/devices/{device}/sensors/{sensor}/aggregates"
    response = api_env.client.get(
        url,
        params={"start": "2025-06-01T00:00:00Z", "end": END, "interval": interval.value},
        headers=api_env.headers("alpha", Role.VIEWER),
    )
    assert response.status_code == 200, response.text
    buckets = response.json()["buckets"]
    assert len(buckets) == len(expected)
    for bucket in buckets:
        start = int(dt.datetime.fromisoformat(bucket["time"]).timestamp() * 1000)
        values = expected[start]
        assert bucket["count"] == len(values)
        assert bucket["min"] == min(values)
        assert bucket["max"] == max(values)
        assert abs(bucket["mean"] - statistics.fmean(values)) <= 1e-9


def test_aggregate_functions_can_be_chosen(api_env: ApiEnv) -> None:
    """Functions not asked for are null."""
    site, device, sensor = api_env.first_series("alpha")
    url = f"/api/v1/tenants/alpha/sites/{site}/devices/{device}/sensors/{sensor}/aggregates"
    response = api_env.client.get(
        url,
        params={"start": "2025-06-01T00:00:00Z", "end": END, "interval": "1d", "function": "max"},
        headers=api_env.headers("alpha", Role.VIEWER),
    )
    bucket = response.json()["buckets"][0]
    assert bucket["max"] is not None
    assert bucket["mean"] is None and bucket["count"] is None


def test_cursor_pages_return_every_stored_point_once(api_env: ApiEnv) -> None:
    """Walking the pages yields exactly the stored points of the series, in order."""
    site, device, sensor = api_env.first_series("alpha")
    url = f"/api/v1/tenants/alpha/sites/{site}/devices/{device}/sensors/{sensor}/readings"
    params: dict[str, str | int] = {"start": "2025-06-01T00:00:00Z", "end": END, "limit": 37}
    seen: list[tuple[int, float]] = []
    pages = 0
    while True:
        body = api_env.client.get(
            url, params=params, headers=api_env.headers("alpha", Role.VIEWER)
        ).json()
        pages += 1
        for item in body["items"]:
            ts = dt.datetime.fromisoformat(item["time"]).timestamp()
            seen.append((round(ts * 1000), item["value"]))
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    stored = _stored(api_env, site, device, sensor)
    assert seen == stored
    assert seen[0][0] == api_env.start_ms
    assert pages == -(-len(stored) // 37)


def test_bad_cursor_and_range_are_400(api_env: ApiEnv) -> None:
    """A forged cursor or a reversed range is refused with a reason."""
    site, device, sensor = api_env.first_series("alpha")
    url = f"/api/v1/tenants/alpha/sites/{site}/devices/{device}/sensors/{sensor}/readings"
    headers = api_env.headers("alpha", Role.VIEWER)
    assert api_env.client.get(url, params={"cursor": "!!"}, headers=headers).status_code == 400
    reversed_range = {"start": END, "end": "2025-06-01T00:00:00Z"}
    assert api_env.client.get(url, params=reversed_range, headers=headers).status_code == 400


def test_aggregates_read_from_rollups_equal_those_from_raw_points(api_env: ApiEnv) -> None:
    """With SHINSHU_ROLLUP_READS, the API answers 1h, 6h and 1d aggregates (of the backfill,
    which rebuilt its rollups) as it does from raw points, over whole and cut ranges."""
    run_round(api_env.store, lag_s=0)  # a watermark: the rollup reader trusts rollups
    store = dataclasses.replace(api_env.settings.store, rollup_reads=True)
    app = create_app(dataclasses.replace(api_env.settings, store=store))
    site, device, sensor = api_env.first_series("alpha")
    url = f"/api/v1/tenants/alpha/sites/{site}/devices/{device}/sensors/{sensor}/aggregates"
    headers = api_env.headers("alpha", Role.VIEWER)
    ranges = (("2025-06-01T00:00:00Z", END), ("2025-06-01T05:17:00Z", "2025-06-02T20:40:00Z"))
    with TestClient(app) as rolled:
        for interval in (Interval.HOUR, Interval.SIX_HOURS, Interval.DAY):
            for start, end in ranges:
                params = {"start": start, "end": end, "interval": interval.value}
                want = api_env.client.get(url, params=params, headers=headers).json()["buckets"]
                got = rolled.get(url, params=params, headers=headers).json()["buckets"]
                assert want and [b["time"] for b in got] == [b["time"] for b in want]
                for mine, theirs in zip(got, want, strict=True):
                    assert (mine["count"], mine["min"], mine["max"]) == (
                        theirs["count"],
                        theirs["min"],
                        theirs["max"],
                    )
                    assert abs(mine["mean"] - theirs["mean"]) <= 1e-9 * max(1, abs(theirs["mean"]))
