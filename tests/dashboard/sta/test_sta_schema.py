"""Generated requests to every SensorThings route: never a 5xx, every answer documented."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from dashboard.keys import Role

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv

pytestmark = pytest.mark.integration

# Cases per operation, as in tests/dashboard/test_api_schema.py (kept low for CI).
EXAMPLES = int(os.environ.get("SHINSHU_API_FUZZ_EXAMPLES", "10"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.fixture(scope="module")
def sta_schema(api_env: ApiEnv) -> schemathesis.BaseSchema:
    """The SensorThings part of the app's own OpenAPI document."""
    return schemathesis.openapi.from_asgi("/openapi.json", api_env.app).include(path_regex="^/sta/")


schema = schemathesis.pytest.from_fixture("sta_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_sta_routes_never_fail_on_generated_requests(
    case: schemathesis.Case, api_env: ApiEnv
) -> None:
    """Generated ids and query options get 200, 400 or 404, as documented, never a 5xx."""
    site, device, sensor = api_env.first_series("alpha")
    path = case.path_parameters or {}
    # A real id half the time, so that options are exercised on entities that exist.
    if "entity_id" in path and len(str(path["entity_id"])) % 2:
        path["entity_id"] = f"'alpha~{site}~{device}~{sensor}'"
    case.call_and_validate(headers=api_env.headers("alpha", Role.VIEWER), checks=CHECKS)
