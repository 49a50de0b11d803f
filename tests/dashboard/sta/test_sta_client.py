"""The published Python client `frost_sta_client` against the API served over real HTTP."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import frost_sta_client as fsc
import pytest
import requests
from frost_sta_client.service.auth_handler import AuthHandler

from core.time import from_ms
from dashboard.keys import Role
from shinshu.webthread import serve_in_thread

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

pytestmark = pytest.mark.integration


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
def service(api_env: ApiEnv) -> Iterator[Any]:
    """A client of the app served by uvicorn on a free port, with the viewer key of alpha."""
    port = _free_port()
    server, thread = serve_in_thread(api_env.app, port, timeout_s=20.0, log_level="warning")
    assert server.started
    token = api_env.tokens["alpha", Role.VIEWER]
    yield fsc.SensorThingsService(
        f"http://127.0.0.1:{port}/sta/v1.1", auth_handler=KeyHandler(token)
    )
    server.should_exit = True
    thread.join(timeout=10)


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
        out.append((int(_parse(stamp).timestamp() * 1000), float(o.result)))
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
