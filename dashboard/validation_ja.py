"""Japanese for FastAPI's own request validation errors, so that every 422 speaks both.

The table covers the pydantic error types the API's bodies and parameters can raise; a type
not listed gets a general sentence naming the field, never an English one in `msg_ja`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_JA: dict[str, str] = {
    "missing": "{field} は必須です",
    "extra_forbidden": "{field} という項目は受け付けません",
    "string_type": "{field} は文字列にしてください",
    "string_too_short": "{field} は{min_length}文字以上にしてください",
    "string_too_long": "{field} は{max_length}文字以内にしてください",
    "string_pattern_mismatch": "{field} の形式が正しくありません",
    "float_type": "{field} は数値にしてください",
    "float_parsing": "{field} は数値にしてください",
    "finite_number": "{field} は有限の数値にしてください",
    "int_type": "{field} は整数にしてください",
    "int_parsing": "{field} は整数にしてください",
    "int_from_float": "{field} は整数にしてください（小数は不可）",
    "int_parsing_size": "{field} の値が大きすぎます",
    "bool_type": "{field} は true か false にしてください",
    "bool_parsing": "{field} は true か false にしてください",
    "enum": "{field} は {expected} のいずれかにしてください",
    "literal_error": "{field} は {expected} のいずれかにしてください",
    "list_type": "{field} はリストにしてください",
    "too_short": "{field} は{min_length}件以上にしてください",
    "too_long": "{field} は{max_length}件以内にしてください",
    "greater_than": "{field} は{gt}より大きくしてください",
    "greater_than_equal": "{field} は{ge}以上にしてください",
    "less_than": "{field} は{lt}未満にしてください",
    "less_than_equal": "{field} は{le}以下にしてください",
    "dict_type": "{field} はオブジェクトにしてください",
    "model_type": "{field} はオブジェクトにしてください",
    "model_attributes_type": "本文は JSON オブジェクトにしてください",
    "json_invalid": "本文が正しい JSON ではありません",
    "json_type": "本文が正しい JSON ではありません",
    "datetime_type": "{field} は ISO 8601 の日時にしてください",
    "datetime_parsing": "{field} は ISO 8601 の日時にしてください",
    "datetime_from_date_parsing": "{field} は ISO 8601 の日時にしてください",
    "datetime_object_invalid": "{field} は ISO 8601 の日時にしてください",
    "timezone_aware": "{field} にはタイムゾーンを付けてください",
    "date_type": "{field} は YYYY-MM-DD 形式の日付にしてください",
    "date_parsing": "{field} は YYYY-MM-DD 形式の日付にしてください",
    "date_from_datetime_parsing": "{field} は YYYY-MM-DD 形式の日付にしてください",
    "date_from_datetime_inexact": "{field} は時刻を含まない日付にしてください",
    "value_error": "{field} の値が正しくありません",
    "union_tag_invalid": "{field} の種類が正しくありません",
    "uuid_parsing": "{field} は UUID にしてください",
}
_GENERAL = "{field} の値が正しくありません"


def _field(loc: Sequence[Any]) -> str:
    # ("body", "plantings", 0) reads as "plantings[0]"; the body as a whole as 本文.
    parts = [str(p) for p in loc[1:] if not isinstance(p, int)]
    indices = "".join(f"[{p}]" for p in loc[1:] if isinstance(p, int))
    return ".".join(parts) + indices if parts else "本文"


def japanese(error: Mapping[str, Any]) -> str:
    """The Japanese sentence of one pydantic error (`type`, `loc`, `ctx`)."""
    template = _JA.get(str(error.get("type", "")), _GENERAL)
    values = {k: v for k, v in (error.get("ctx") or {}).items() if isinstance(v, str | int | float)}
    values["field"] = _field(error.get("loc") or ())
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return _GENERAL.format(field=values["field"])
