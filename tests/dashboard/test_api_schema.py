"""Property-based checks of every operation against the OpenAPI schema, with valid keys.

Cases per operation come from SHINSHU_API_FUZZ_EXAMPLES (default 25 to keep CI short; the
acceptance run uses 200).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.dashboard.conftest import ApiEnv
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from dashboard.keys import Role

pytestmark = pytest.mark.integration

# The acceptance criteria: no 5xx, and every answer documented and matching its schema.
# (Unknown query parameters are ignored, as FastAPI does, so "negative data" checks do not apply.)
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]
EXAMPLES = int(os.environ.get("SHINSHU_API_FUZZ_EXAMPLES", "25"))
CALLS: Counter[str] = Counter()


@pytest.fixture(scope="module")
def api_schema(api_env: ApiEnv) -> schemathesis.BaseSchema:
    """The app's own OpenAPI document."""
    return schemathesis.openapi.from_asgi("/openapi.json", api_env.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_every_answer_matches_its_schema(
    case: schemathesis.Case, api_env: ApiEnv
) -> None:
    """Generated requests with the tenant's real ids never get 5xx or an off-schema answer."""
    path = case.path_parameters or {}
    if "tenant" in path:
        site, device, sensor = api_env.first_series("alpha")
        path["tenant"] = "alpha"
        # Real ids most of the time, generated ones otherwise, so both answers are exercised.
        if len(str(path.get("site", ""))) % 4:
            path.update(
                {
                    k: v
                    for k, v in (("site", site), ("device", device), ("sensor", sensor))
                    if k in path
                }
            )
    # Research exports are the researcher's; the registry's CSV is for those who read it.
    research = "/exports/" in case.path and "/exports/registry/" not in case.path
    role = Role.RESEARCHER if research else Role.ADMIN
    CALLS[f"{case.method.upper()} {case.path}"] += 1
    case.call_and_validate(headers=api_env.headers("alpha", role), checks=CHECKS)


def test_every_operation_got_its_generated_cases(api_env: ApiEnv) -> None:
    """Runs after the property test: each operation with inputs was called EXAMPLES times."""
    for path, methods in api_env.app.openapi()["paths"].items():
        for method, operation in methods.items():
            calls = CALLS[f"{method.upper()} {path}"]
            has_inputs = bool(operation.get("parameters") or operation.get("requestBody"))
            assert calls >= (EXAMPLES if has_inputs else 1), (method, path, calls)
    print(", ".join(f"{op}: {n}" for op, n in sorted(CALLS.items())))
