"""The vectorised Observation filter keeps exactly the points the evaluator keeps."""

from __future__ import annotations

import numpy as np
import pytest

from core.time import from_ms
from dashboard.sta.odata import evaluate, parse_filter
from dashboard.sta.vector import mask

START_MS = 1_748_736_000_000  # 2025-06-01T00:00:00Z


@pytest.mark.parametrize(
    "expression",
    [
        "result gt 20",
        "result le 15.5 or result ge 25",
        "not (result lt 18) and phenomenonTime le 2025-06-01T18:00:00Z",
        "phenomenonTime gt 2025-06-01T06:00:00.0005Z and resultTime lt 2025-06-02T00:00:00Z",
        "phenomenonTime eq 2025-06-01T01:00:00Z or result eq 20",
        "result ne 20 and not (result gt 25 or result lt 12)",
    ],
)
def test_mask_equals_the_evaluator(expression: str) -> None:
    """On random points, the array mask and the per-point evaluator agree point by point."""
    rng = np.random.default_rng(7)
    times = START_MS + np.sort(rng.integers(0, 86_400_000, 2000)).astype(np.int64)
    times[:3] = START_MS + 3_600_000  # a point exactly at a bound of the examples
    values = np.round(rng.normal(20, 5, 2000), 1)
    values[:5] = 20.0
    node = parse_filter(expression)
    found = mask(node, times, values)
    assert found is not None

    def keeps(t: int, v: float) -> bool:
        at = from_ms(t)
        props = {"phenomenonTime": at, "resultTime": at, "result": v}
        return evaluate(node, props.__getitem__) is True

    expected = [keeps(int(t), float(v)) for t, v in zip(times, values, strict=True)]
    assert found.tolist() == expected
    assert 0 < sum(expected) < len(expected)


@pytest.mark.parametrize(
    "expression", ["round(result) eq 20", "result add 1 gt 3", "20 lt result", "result eq null"]
)
def test_other_shapes_are_left_to_the_evaluator(expression: str) -> None:
    """Functions, arithmetic, literals on the left and nulls are not vectorised."""
    times = np.array([START_MS], np.int64)
    assert mask(parse_filter(expression), times, np.array([20.0])) is None
