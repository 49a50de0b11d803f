"""The $filter parser and evaluator on the query examples of the SensorThings standard.

The expressions follow the examples of OGC 18-088 (SensorThings API Part 1: Sensing, 1.1),
section 9.3.3.5 ($filter) and table 24 (built-in operators and functions), applied to one
entity whose properties are known, so each expected answer is worked out from them here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from dashboard.sta.odata import QueryOptionError, evaluate, parse_filter, time_bounds
from dashboard.sta.options import parse_options

ENTITY: dict[str, Any] = {
    "name": "Room 101 thermometer",
    "description": "room 101",
    "result": 31.7,
    "phenomenonTime": dt.datetime(2015, 6, 2, 10, 30, tzinfo=dt.UTC),
    "unitOfMeasurement/symbol": "°C",
}


def _get(name: str) -> Any:
    return ENTITY.get(name)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("result lt 10.00", ENTITY["result"] < 10),
        ("result gt 10.00", ENTITY["result"] > 10),
        ("result eq 31.7", True),
        ("result ne 31.7", False),
        ("result ge 31.7 and result le 31.7", True),
        ("result lt 0 or result gt 30", True),
        ("not (result gt 30)", False),
        ("result add 5 gt 36", ENTITY["result"] + 5 > 36),
        ("result sub 1.7 eq 30", ENTITY["result"] - 1.7 == 30),
        ("result mul 2 gt 63", ENTITY["result"] * 2 > 63),
        ("result div 2 lt 16", ENTITY["result"] / 2 < 16),
        ("result mod 2 gt 1", ENTITY["result"] % 2 > 1),
        ("result div 0 gt 1", False),
        ("substringof('room', description)", True),
        ("startswith(description, 'room')", True),
        ("endswith(description, '101')", True),
        ("length(description) le 22", len(ENTITY["description"]) <= 22),
        ("indexof(description, '101') eq 5", ENTITY["description"].find("101") == 5),
        ("tolower(name) eq 'room 101 thermometer'", True),
        ("toupper(description) eq 'ROOM 101'", True),
        ("trim('  room 101 ') eq description", True),
        ("concat(description, ' east') eq 'room 101 east'", True),
        ("year(phenomenonTime) eq 2015", True),
        ("month(phenomenonTime) eq 6 and day(phenomenonTime) eq 2", True),
        ("hour(phenomenonTime) eq 10 and minute(phenomenonTime) eq 30", True),
        ("second(phenomenonTime) eq 0", True),
        ("round(result) eq 32", round(ENTITY["result"]) == 32),
        ("round(2.5) eq 3 and round(-2.5) eq -3 and round(2.4) eq 2", True),
        ("floor(result) eq 31", True),
        ("ceiling(result) eq 32", True),
        ("phenomenonTime ge 2015-06-01T00:00:00Z", True),
        ("phenomenonTime lt 2015-06-02T10:30:00+00:00", False),
        ("phenomenonTime le 2015-06-02T19:30:00+09:00", True),
        ("unitOfMeasurement/symbol eq '°C'", True),
        ("name eq 'it''s'", False),
        ("result eq null", False),
        ("nothing eq null", True),
        ("nothing gt 3", False),
    ],
)
def test_standard_filter_examples(expression: str, expected: bool) -> None:
    """Each example keeps the entity exactly when its condition holds for it."""
    assert evaluate(parse_filter(expression), _get) is expected


@pytest.mark.parametrize(
    "expression",
    [
        "result gt",
        "result eq 'open",
        "geo.intersects(location, geography'POINT(1 2)')",
        "st_within(location, 1)",
        "length(description, 2) eq 1",
        "result gt 1 2",
        "(result gt 1",
        "result $ 3",
        "phenomenonTime gt 2015-13-45T00:00:00Z",
        "phenomenonTime gt 2015-06-01T00:00:00",
        "phenomenonTime gt 0001-01-01T00:00:00+09:00",
        "((((((((((((((((((((((((((((((((((result)))))))))))))))))))))))))))))))))) eq 1",
        "x" * 3000,
    ],
)
def test_unsupported_or_malformed_filters_are_refused(expression: str) -> None:
    """What the parser cannot answer exactly is refused with a reason."""
    with pytest.raises(QueryOptionError) as raised:
        evaluate(parse_filter(expression), _get)
    assert str(raised.value)


@pytest.mark.parametrize(
    ("expression", "start", "end"),
    [
        ("phenomenonTime ge 2015-06-01T00:00:00Z", 1_433_116_800_000, None),
        ("phenomenonTime gt 2015-06-01T00:00:00Z", 1_433_116_800_001, None),
        ("phenomenonTime lt 2015-06-01T00:00:00Z", None, 1_433_116_800_000),
        ("phenomenonTime le 2015-06-01T00:00:00Z", None, 1_433_116_800_001),
        ("phenomenonTime eq 2015-06-01T00:00:00.0005Z", 1_433_116_800_001, 1_433_116_800_001),
        ("phenomenonTime gt 2015-06-01T00:00:00Z or result gt 3", None, None),
        ("result gt 3 and phenomenonTime lt 2015-06-01T00:00:00Z", None, 1_433_116_800_000),
    ],
)
def test_time_bounds_are_the_exact_ms_a_filter_keeps(
    expression: str, start: int | None, end: int | None
) -> None:
    """Only top-level `and` terms bound the store's range, each to the ms it keeps."""
    bounds = time_bounds(parse_filter(expression), "phenomenonTime")
    assert (bounds.start_ms, bounds.end_ms) == (start, end)


def test_expand_options_nest() -> None:
    """`$expand` takes nested options separated by `;` and the `a/b` path form."""
    options = parse_options(
        {"$expand": "Datastreams($top=2;$expand=Observations($filter=result gt 1)),Locations"}
    )
    inner = options.expand["Datastreams"]
    assert inner.top == 2
    assert inner.expand["Observations"].filter == parse_filter("result gt 1")
    assert set(options.expand) == {"Datastreams", "Locations"}
    path = parse_options({"$expand": "Datastreams/ObservedProperty"})
    assert set(path.expand["Datastreams"].expand) == {"ObservedProperty"}
