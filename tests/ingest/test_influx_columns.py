"""Query answers read as columns equal what InfluxDB stored, whichever way it encodes them."""

from __future__ import annotations

import msgpack
import pytest
from support import Services, make_influx

from storage.influx.client import StoreError
from storage.influx.columns import IrregularAnswerError, packed_columns

pytestmark = pytest.mark.integration

T0 = 1_735_689_600_000


def test_float_series_come_back_exactly_and_match_the_json_answer(
    services: Services, database: str
) -> None:
    """Times, values (negative zero and long fractions included), names and tags."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    values = [-0.0, 0.1, -20.0, 1e-7, 123456.789012345, 2.5e300]
    lines = [
        f"air,site=s1,device=d{d} value={v!r} {T0 + i * 60_000}"
        for d in range(2)
        for i, v in enumerate(values)
    ]
    lines.append(f"soil,site=s2,device=d0 value=7.25 {T0}")
    assert store.write_lines(lines) == []
    q = 'SELECT "value" FROM "air","soil" GROUP BY "site", "device"'
    columns = store.query_columns(q)
    series = {(c.name, c.tags["site"], c.tags["device"]): c for c in columns}
    assert sorted(series) == [("air", "s1", "d0"), ("air", "s1", "d1"), ("soil", "s2", "d0")]
    air = series["air", "s1", "d1"]
    assert air.times.tolist() == [T0 + i * 60_000 for i in range(len(values))]
    assert [v.hex() for v in air.values.tolist()] == [v.hex() for v in values]
    assert series["soil", "s2", "d0"].values.tolist() == [7.25]
    # The JSON answer holds the same points (JSON cannot tell -0.0 from 0).
    for answer in store.query(q)[0]["series"]:
        got = series[answer["name"], answer["tags"]["site"], answer["tags"]["device"]]
        assert got.times.tolist() == [t for t, _ in answer["values"]]
        assert got.values.tolist() == [float(v) for _, v in answer["values"]]


def test_integer_values_are_read_as_numbers_and_text_is_refused(
    services: Services, database: str
) -> None:
    """An integer field takes the general path; a text field is an error, not a wrong number."""
    store = make_influx(services.influx, database)
    store.ensure_database()
    lines = ["counts value=3i 1735689600000", "counts value=-4i 1735689660000"]
    assert store.write_lines([*lines, 'notes value="x" 1735689600000']) == []
    (counts,) = store.query_columns('SELECT "value" FROM "counts"')
    assert counts.times.tolist() == [T0, T0 + 60_000]
    assert counts.values.tolist() == [3.0, -4.0]
    with pytest.raises(StoreError, match="other than numbers"):
        store.query_columns('SELECT "value" FROM "notes"')


def test_errors_and_empty_answers(services: Services, database: str) -> None:
    """No series is an empty list; a bad query or a missing database is a StoreError."""
    store = make_influx(services.influx, database)
    with pytest.raises(StoreError, match="database not found"):
        store.query_columns('SELECT "value" FROM "air"')
    store.ensure_database()
    assert store.query_columns('SELECT "value" FROM "air"') == []
    with pytest.raises(StoreError, match="error parsing query"):
        store.query_columns("SELECT FROM")


def test_rows_laid_out_otherwise_are_left_to_the_general_path() -> None:
    """Only [int64, float64] rows are read in place; anything else is said to be irregular."""
    body = msgpack.packb(
        {
            "results": [
                {
                    "statement_id": 0,
                    "series": [{"name": "air", "columns": ["time", "value"], "values": [[T0, 1]]}],
                }
            ]
        }
    )
    with pytest.raises(IrregularAnswerError):
        packed_columns(body)
    with pytest.raises(IrregularAnswerError):
        packed_columns(msgpack.packb({"error": "boom"}))
