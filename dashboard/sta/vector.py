"""A `$filter` on Observations evaluated over arrays of times and values at once.

Only the common shapes are vectorised: `and`, `or`, `not` and comparisons of `result`,
`phenomenonTime` or `resultTime` with a literal of their type. Anything else answers None and
the caller evaluates each point (`odata.evaluate`), so the answers are the same either way.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

from dashboard.sta.odata import Node

Mask = npt.NDArray[np.bool_]
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TIMES = ("phenomenonTime", "resultTime")


def _compare(op: str, left: npt.NDArray[np.generic], right: float | int) -> Mask:
    if op == "eq":
        return np.asarray(left == right)
    if op == "ne":
        return np.asarray(left != right)
    if op == "gt":
        return np.asarray(left > right)
    if op == "ge":
        return np.asarray(left >= right)
    if op == "lt":
        return np.asarray(left < right)
    return np.asarray(left <= right)


def mask(
    node: Node, times_ms: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> Mask | None:
    """Which points `node` keeps, or None when it is not one of the vectorised shapes."""
    kind = node[0]
    if kind in ("and", "or"):
        left, right = mask(node[1], times_ms, values), mask(node[2], times_ms, values)
        if left is None or right is None:
            return None
        return left & right if kind == "and" else left | right
    if kind == "not":
        inner = mask(node[1], times_ms, values)
        return None if inner is None else ~inner
    if kind != "cmp" or node[2][0] != "prop" or node[3][0] != "literal":
        return None
    prop, literal = node[2][1], node[3][1]
    if prop == "result" and isinstance(literal, int | float) and not isinstance(literal, bool):
        return _compare(node[1], values, literal)
    if prop in _TIMES and isinstance(literal, dt.datetime):
        # In microseconds: a point's whole ms compares exactly with a literal's fraction.
        micros = (literal - _EPOCH) // dt.timedelta(microseconds=1)
        return _compare(node[1], times_ms * 1000, micros)
    return None
