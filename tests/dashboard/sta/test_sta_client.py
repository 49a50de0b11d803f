"""The published Python client `frost_sta_client` against the API served over real HTTP."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import frost_sta_client as fsc
import numpy as np
import pytest
import requests
from frost_sta_client.service.auth_handler import AuthHandler

from core.time import from_ms
from dashboard.keys import Role
from edge.protocol import DeviceTopic, SensorKind
from shinshu.webthread import serve_in_thread
from storage.batch import ChannelReadings

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

pytestmark = pytest.mark.integration
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# The long series' tenant: its own, so that the other tests' series stay as they are.
LONG_TENANT = "gamma"
LONG_POINTS = 100_000


class _KeyAuth(requests.auth.AuthBase):
    """Sends the API key in the X-API-Key header, the API's one way of taking a key."""

    def __init__(self, token: str) -> None:
        """Send `token`."""
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """The request with the key's header."""
        request.headers["X-API-Key"] = self.token
        return request


class KeyHandler(AuthHandler):
    """The client's hook for credentials, giving the key header instead of basic auth."""

    def __init__(self, token: str) -> None:
        """Authenticate with `token`."""
        super().__init__()
        self.token = token

    def add_auth_header(self) -> requests.auth.AuthBase:
        """What `requests` authenticates each of the client's requests with."""
        return _KeyAuth(self.token)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def served(api_env: ApiEnv) -> Iterator[str]:
    """The app served by uvicorn on a free port: the SensorThings root URL."""
    port = _free_port()
    server, thread = serve_in_thread(api_env.app, port, timeout_s=20.0, log_level="warning")
    assert server.started
    yield f"http://127.0.0.1:{port}/sta/v1.1"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def service(served: str, api_env: ApiEnv) -> Any:
    """A client of the served app with the viewer key of alpha."""
    token = api_env.tokens["alpha", Role.VIEWER]
    return fsc.SensorThingsService(served, auth_handler=KeyHandler(token))


def _raw(env: ApiEnv) -> list[tuple[int, float]]:
    site, device, sensor = env.first_series("alpha")
    answer = env.store.query(
        f'SELECT value FROM "air_temperature" WHERE "tenant" = \'alpha\' AND "site" = \'{site}\''
        f" AND \"device\" = '{device}' AND \"sensor\" = '{sensor}'",
        epoch="ms",
    )
    return [(int(t), float(v)) for t, v in answer[0]["series"][0]["values"]]


def _points(observations: Any) -> list[tuple[int, float]]:
    """(ms, result) of the client's Observations, following every nextLink."""
    out = []
    for o in observations:
        at = o.phenomenon_time
        stamp = at if isinstance(at, str) else at.isoformat()
        # Whole ms counted exactly (a float of seconds times 1000 may fall short by one).
        ms = (_parse(stamp) - EPOCH) // dt.timedelta(milliseconds=1)
        out.append((ms, float(o.result)))
    return out


def _parse(text: str) -> dt.datetime:
    """A time the client gave as text."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_client_lists_things_and_datastreams(service: Any, api_env: ApiEnv) -> None:
    """The client reads the tenant's Things and Datastreams, with the catalogue's unit."""
    things = list(service.things().query().top(1000).list())
    site, device, sensor = api_env.first_series("alpha")
    assert f"alpha~{site}~{device}" in {t.id for t in things}
    streams = {d.id: d for d in service.datastreams().query().top(1000).list()}
    chosen = streams[f"alpha~{site}~{device}~{sensor}"]
    assert chosen.unit_of_measurement.symbol == "°C"
    assert all(i.startswith("alpha~") for i in streams)


def test_client_pages_through_every_observation(service: Any, api_env: ApiEnv) -> None:
    """Iterating the client's list follows @iot.nextLink through pages of 40 to the last point."""
    site, device, sensor = api_env.first_series("alpha")
    stream = service.datastreams().find(f"alpha~{site}~{device}~{sensor}")
    listed = stream.get_observations().query().top(40).list()
    assert _points(listed) == _raw(api_env)


def test_client_filters_on_phenomenon_time_and_result(service: Any, api_env: ApiEnv) -> None:
    """A filter on phenomenonTime and result gives exactly the raw points it names."""
    site, device, sensor = api_env.first_series("alpha")
    stream = service.datastreams().find(f"alpha~{site}~{device}~{sensor}")
    start = api_env.start_ms + 6 * 3_600_000
    end = api_env.start_ms + 30 * 3_600_000
    raw = _raw(api_env)
    threshold = sorted(v for _, v in raw)[len(raw) // 2]
    low, high = (from_ms(ms).isoformat().replace("+00:00", "Z") for ms in (start, end))
    text = f"phenomenonTime ge {low} and phenomenonTime lt {high} and result gt {threshold}"
    listed = stream.get_observations().query().filter(text).top(25).list()
    expected = [(t, v) for t, v in raw if start <= t < end and v > threshold]
    assert expected
    assert _points(listed) == expected


def _write_long_series(env: ApiEnv) -> tuple[str, list[tuple[int, float]]]:
    """100 000 points of one channel of tenant gamma over 11 weeks and a gap of three.

    Times a minute apart with a few ms of jitter, values at full float precision: what comes
    back must be the very numbers written.
    """
    rng = np.random.default_rng(3)
    steps = 60_000 + rng.integers(-500, 500, LONG_POINTS)
    steps[LONG_POINTS // 2] += 21 * 86_400_000
    times = (env.start_ms + np.cumsum(steps)).tolist()
    values = rng.normal(12.0, 6.0, LONG_POINTS).tolist()
    topic = DeviceTopic(LONG_TENANT, "long-site", "long-logger")
    channel = ChannelReadings(topic, "t1", SensorKind.AIR_TEMPERATURE, times, values)
    assert env.store.write_channel(channel) == []
    return f"{LONG_TENANT}~long-site~long-logger~t1", list(zip(times, values, strict=True))


def test_client_pages_through_100000_observations(served: str, api_env: ApiEnv) -> None:
    """Pages of 10 000 through the client's nextLink give the 100 000 points written, in order."""
    datastream, written = _write_long_series(api_env)
    token = api_env.app.state.context.keys.create(LONG_TENANT, Role.VIEWER, name="long")[1]
    client = fsc.SensorThingsService(served, auth_handler=KeyHandler(token))
    stream = client.datastreams().find(datastream)
    listed = stream.get_observations().query().top(10_000).list()
    assert _points(listed) == written
