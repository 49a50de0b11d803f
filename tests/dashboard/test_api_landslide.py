"""The landslide API: current levels of a tenant's sites, and per-site thresholds by role."""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

from dashboard.keys import Role
from edge.protocol import DeviceTopic, Reading, SensorKind
from models.landslide.service import STEP_MS
from models.landslide.tank import run_tanks

pytestmark = pytest.mark.integration
ALPHA = "/api/v1/tenants/alpha"
BETA = "/api/v1/tenants/beta"
STORM_SITE = "hill-alpha"
STORM = [0.0] * (13 * 144) + [10.0] * 24
DRY_SITE = "hill-beta"


def write_rain(env: ApiEnv, tenant: str, site: str, values: list[float]) -> None:
    """Readings every 10 minutes, the last at the latest step end before now."""
    end = int(time.time() * 1000) // STEP_MS * STEP_MS
    start = end - (len(values) - 1) * STEP_MS
    readings = [
        Reading("rain", SensorKind.RAINFALL, start + i * STEP_MS, v) for i, v in enumerate(values)
    ]
    assert env.store.write_readings(DeviceTopic(tenant, site, "wx"), readings) == []


@pytest.fixture(scope="module")
def rained(api_env: ApiEnv) -> ApiEnv:
    """A storm ending now at alpha's hillside (13 dry days, then 60 mm/h for 4 h); two dry
    weeks at beta's."""
    write_rain(api_env, "alpha", STORM_SITE, STORM)
    write_rain(api_env, "beta", DRY_SITE, [0.0] * (14 * 144))
    return api_env


def _ms(text: str) -> int:
    return round(dt.datetime.fromisoformat(text).timestamp() * 1000)


def _levels(env: ApiEnv, tenant: str, role: Role = Role.VIEWER) -> dict[str, dict[str, object]]:
    response = env.client.get(
        f"/api/v1/tenants/{tenant}/landslide/levels", headers=env.headers(tenant, role)
    )
    assert response.status_code == 200, response.text
    return {x["site"]: x for x in response.json()}


def test_a_viewer_sees_its_own_sites_levels_only(rained: ApiEnv) -> None:
    """Alpha's storm site is at warning with its SWI; beta's viewer sees its dry site only."""
    alpha = _levels(rained, "alpha")
    assert set(alpha) == {STORM_SITE}
    storm = alpha[STORM_SITE]
    assert (storm["level"], storm["level_ja"]) == ("warning", "警戒")
    # The store puts each reading in the step ending at its time: the SWI is that of the
    # storm's readings, one per step, and of dry steps for any step completed since.
    later = round((_ms(str(storm["at"])) - _ms(str(storm["last_reading_at"]))) / STEP_MS)
    expected = run_tanks(STORM + [0.0] * later, step_minutes=10).swi_mm[-1]
    assert storm["swi_mm"] == pytest.approx(expected, abs=1e-3)
    assert float(storm["swi_mm"]) > 150  # type: ignore[arg-type]
    assert storm["default_thresholds"] is True
    assert (storm["device"], storm["sensor"]) == ("wx", "rain")
    beta = _levels(rained, "beta")
    assert set(beta) == {DRY_SITE}
    assert (beta[DRY_SITE]["level"], beta[DRY_SITE]["swi_mm"]) == ("none", 0.0)
    refused = rained.client.get(
        f"{ALPHA}/landslide/levels", headers=rained.headers("beta", Role.VIEWER)
    )
    assert refused.status_code == 403
    assert STORM_SITE not in refused.text


def test_operators_set_thresholds_viewers_read_them(rained: ApiEnv) -> None:
    """Defaults until set; a viewer may not set them; an operator's version is in force at
    once (the storm site falls to none under high thresholds), and DELETE restores defaults."""
    url = f"{ALPHA}/sites/{STORM_SITE}/landslide/thresholds"
    viewer, operator = rained.headers("alpha", Role.VIEWER), rained.headers("alpha", Role.OPERATOR)
    first = rained.client.get(url, headers=viewer).json()
    assert first["default"] is True and first["caution_swi_mm"] == 100
    high = {"caution_swi_mm": 500, "warning_swi_mm": 600, "danger_swi_mm": 700}
    assert rained.client.put(url, json=high, headers=viewer).status_code == 403
    assert (
        rained.client.put(url, json=high, headers=rained.headers("beta", Role.ADMIN)).status_code
        == 403
    )
    put = rained.client.put(url, json=high, headers=operator)
    assert put.status_code == 200, put.text
    body = put.json()
    assert (body["default"], body["caution_swi_mm"], body["caution_r60_mm"]) == (False, 500, None)
    assert body["changed_by"].startswith("key:")
    assert rained.client.get(url, headers=viewer).json() == body
    storm = _levels(rained, "alpha")[STORM_SITE]
    assert (storm["level"], storm["default_thresholds"]) == ("none", False)
    assert rained.client.delete(url, headers=viewer).status_code == 403
    assert rained.client.delete(url, headers=operator).status_code == 204
    assert rained.client.get(url, headers=viewer).json()["default"] is True
    assert _levels(rained, "alpha")[STORM_SITE]["level"] == "warning"


def test_bad_thresholds_are_refused_in_both_languages(rained: ApiEnv) -> None:
    """Out of order, none at all, negative: 422; an unknown site: 404."""
    url = f"{ALPHA}/sites/{STORM_SITE}/landslide/thresholds"
    operator = rained.headers("alpha", Role.OPERATOR)
    disorder = rained.client.put(
        url, json={"caution_swi_mm": 200, "warning_swi_mm": 100}, headers=operator
    )
    assert disorder.status_code == 422
    message = disorder.json()["detail"][0]["msg"]
    assert "注意 ≤ 警戒" in message and "caution ≤ warning" in message
    assert rained.client.put(url, json={}, headers=operator).status_code == 422
    negative = rained.client.put(url, json={"caution_swi_mm": -1}, headers=operator)
    assert negative.status_code == 422
    line = {"critical_line": [0, 0, 0, 0]}
    assert rained.client.put(url, json=line, headers=operator).status_code == 422
    unknown = f"{ALPHA}/sites/nowhere/landslide/thresholds"
    assert rained.client.get(unknown, headers=operator).status_code == 404
    # Beta's dry site is not alpha's, although both tenants share one store.
    other = f"{ALPHA}/sites/{DRY_SITE}/landslide/thresholds"
    assert rained.client.get(other, headers=operator).status_code == 404
    assert rained.client.get(url, headers=operator).json()["default"] is True


def test_a_critical_line_is_stored_and_shown(rained: ApiEnv) -> None:
    """A CL through (300, 0) and (0, 60) with no other threshold puts the storm at danger."""
    url = f"{ALPHA}/sites/{STORM_SITE}/landslide/thresholds"
    operator = rained.headers("alpha", Role.OPERATOR)
    body = {"critical_line": [300, 0, 0, 60], "critical_line_level": "danger"}
    put = rained.client.put(url, json=body, headers=operator)
    assert put.status_code == 200, put.text
    assert put.json()["critical_line"] == [300, 0, 0, 60]
    storm = _levels(rained, "alpha")[STORM_SITE]
    # SWI above 150 and R60 of 60 mm: past the line (150/300 + 60/60 > 1).
    assert storm["level"] == "danger"
    assert rained.client.delete(url, headers=operator).status_code == 204
