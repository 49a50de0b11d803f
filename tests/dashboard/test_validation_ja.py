"""FastAPI's own validation errors get a Japanese sentence for every error type."""

from __future__ import annotations

from dashboard.validation_ja import japanese


def test_common_types_name_the_field_and_the_limit() -> None:
    """Missing, too long, a bound and an enum: the field and the limit appear in Japanese."""
    assert japanese({"type": "missing", "loc": ("body", "crop")}) == "crop は必須です"
    long = {"type": "string_too_long", "loc": ("body", "name"), "ctx": {"max_length": 200}}
    assert japanese(long) == "name は200文字以内にしてください"
    bound = {"type": "greater_than_equal", "loc": ("query", "limit"), "ctx": {"ge": 1}}
    assert japanese(bound) == "limit は1以上にしてください"
    kind = {"type": "enum", "loc": ("body", "kind"), "ctx": {"expected": "'farm' or 'forest'"}}
    assert japanese(kind) == "kind は 'farm' or 'forest' のいずれかにしてください"
    item = {"type": "string_type", "loc": ("body", "plantings", 2)}
    assert japanese(item) == "plantings[2] は文字列にしてください"


def test_an_unknown_type_or_missing_context_still_gets_japanese() -> None:
    """A type not in the table, or a template without its context, falls back to a sentence."""
    assert japanese({"type": "something_new", "loc": ("body", "x")}) == "x の値が正しくありません"
    assert japanese({"type": "too_long", "loc": ("body", "sensors")}) == (
        "sensors の値が正しくありません"
    )
    assert (
        japanese({"type": "json_invalid", "loc": ("body", 0)}) == "本文が正しい JSON ではありません"
    )
