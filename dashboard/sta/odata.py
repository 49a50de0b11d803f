"""A small, safe parser of the OData query options the SensorThings API uses.

`$filter` becomes a tree of tuples that `evaluate` walks over one entity; nothing is ever
`eval`-ed. Supported: eq ne gt ge lt le, and or not, parentheses, add sub mul div mod, numbers,
'strings', ISO 8601 datetimes, true false null, property paths (`a/b`) and the functions in
`FUNCTIONS`. Anything else is refused with `QueryOptionError` (HTTP 400) naming what and where.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashboard.errors import InvalidRequestError

Node = tuple[Any, ...]
Getter = Callable[[str], Any]

MAX_FILTER_CHARS = 2000
MAX_DEPTH = 32
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_TOKEN = re.compile(
    r"\s*(?:"
    r"(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<name>[A-Za-z_@][A-Za-z0-9_@.]*(?:/[A-Za-z_@][A-Za-z0-9_@.]*)*)"
    r"|(?P<punct>[(),])"
    r")"
)
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
_ARITHMETIC = {"add": 1, "sub": 1, "mul": 2, "div": 2, "mod": 2}


class QueryOptionError(InvalidRequestError):
    """A query option that is malformed or not supported here (HTTP 400)."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise QueryOptionError("a string function was given something that is not a string")
    return value


def _date(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        raise QueryOptionError("a date function was given something that is not a datetime")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QueryOptionError("a math function was given something that is not a number")
    return value


def _round(value: float) -> float:
    """OData's round: the midpoint goes away from zero (2.5 → 3, -2.5 → -3), unlike Python's."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "substringof": (2, lambda a, b: _text(a) in _text(b)),
    "contains": (2, lambda a, b: _text(b) in _text(a)),
    "startswith": (2, lambda a, b: _text(a).startswith(_text(b))),
    "endswith": (2, lambda a, b: _text(a).endswith(_text(b))),
    "length": (1, lambda a: len(_text(a))),
    "indexof": (2, lambda a, b: _text(a).find(_text(b))),
    "tolower": (1, lambda a: _text(a).lower()),
    "toupper": (1, lambda a: _text(a).upper()),
    "trim": (1, lambda a: _text(a).strip()),
    "concat": (2, lambda a, b: _text(a) + _text(b)),
    "year": (1, lambda a: _date(a).year),
    "month": (1, lambda a: _date(a).month),
    "day": (1, lambda a: _date(a).day),
    "hour": (1, lambda a: _date(a).hour),
    "minute": (1, lambda a: _date(a).minute),
    "second": (1, lambda a: _date(a).second),
    "round": (1, lambda a: _round(_number(a))),
    "floor": (1, lambda a: float(math.floor(_number(a)))),
    "ceiling": (1, lambda a: float(math.ceil(_number(a)))),
}


def parse_datetime(text: str) -> dt.datetime:
    """An ISO 8601 time with a zone, in UTC."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryOptionError(f"not a datetime: {text!r}") from exc
    if value.tzinfo is None:
        raise QueryOptionError(f"a datetime needs a zone (Z or +hh:mm): {text!r}")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise QueryOptionError(f"datetime out of range: {text!r}") from exc


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        found = _TOKEN.match(text, pos)
        if found is None or found.end() == pos:
            raise QueryOptionError(f"$filter: cannot read {text[pos : pos + 20].strip()!r}")
        kind = found.lastgroup or ""
        raw = found.group(kind)
        if kind == "datetime":
            out.append(("literal", parse_datetime(raw)))
        elif kind == "number":
            out.append(("literal", float(raw) if any(c in raw for c in ".eE") else int(raw)))
        elif kind == "string":
            out.append(("literal", raw[1:-1].replace("''", "'")))
        elif kind == "name" and raw in ("true", "false", "null"):
            out.append(("literal", {"true": True, "false": False, "null": None}[raw]))
        else:
            out.append((kind, raw))
        pos = found.end()
    return out


class _Parser:
    """Recursive descent: or < and < not < comparison < additive < multiplicative < primary."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def word(self, *words: str) -> str | None:
        token = self.peek()
        if token is not None and token[0] == "name" and token[1] in words:
            self.pos += 1
            return str(token[1])
        return None

    def expect(self, punct: str) -> None:
        token = self.peek()
        if token != ("punct", punct):
            raise QueryOptionError(f"$filter: expected {punct!r}")
        self.pos += 1

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise QueryOptionError(f"$filter: unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.word("or"):
            node = ("or", node, self.and_())
        return node

    def and_(self) -> Node:
        node = self.not_()
        while self.word("and"):
            node = ("and", node, self.not_())
        return node

    def not_(self) -> Node:
        if self.word("not"):
            return ("not", self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        node = self.arith(1)
        op = self.word(*_COMPARISONS)
        if op:
            node = ("cmp", op, node, self.arith(1))
        return node

    def arith(self, level: int) -> Node:
        if level > 2:
            return self.primary()
        node = self.arith(level + 1)
        while True:
            ops = [w for w, lv in _ARITHMETIC.items() if lv == level]
            op = self.word(*ops)
            if not op:
                return node
            node = ("arith", op, node, self.arith(level + 1))

    def primary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryOptionError("$filter is nested too deeply")
        token = self.peek()
        if token is None:
            raise QueryOptionError("$filter ends too early")
        self.pos += 1
        kind, value = token
        if kind == "literal":
            node: Node = ("literal", value)
        elif token == ("punct", "("):
            node = self.or_()
            self.expect(")")
        elif kind == "name" and self.peek() == ("punct", "("):
            node = self.call(value)
        elif kind == "name" and value not in _COMPARISONS | set(_ARITHMETIC):
            node = ("prop", value)
        else:
            raise QueryOptionError(f"$filter: unexpected {value!r}")
        self.depth -= 1
        return node

    def call(self, name: str) -> Node:
        if name not in FUNCTIONS:
            raise QueryOptionError(f"$filter: function {name!r} is not supported")
        self.expect("(")
        args = [self.or_()]
        while self.peek() == ("punct", ","):
            self.pos += 1
            args.append(self.or_())
        self.expect(")")
        if len(args) != FUNCTIONS[name][0]:
            raise QueryOptionError(f"$filter: {name} takes {FUNCTIONS[name][0]} argument(s)")
        return ("call", name, *args)


def parse_filter(text: str) -> Node:
    """The tree of a `$filter` expression."""
    if len(text) > MAX_FILTER_CHARS:
        raise QueryOptionError(f"$filter is longer than {MAX_FILTER_CHARS} characters")
    return _Parser(text).parse()


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return {
            "gt": left > right,
            "ge": left >= right,
            "lt": left < right,
            "le": left <= right,
        }[op]
    except TypeError as exc:
        raise QueryOptionError("$filter compares values of different types") from exc


def _arith(op: str, left: Any, right: Any) -> Any:
    a, b = _number(left), _number(right)
    if op in ("div", "mod") and b == 0:
        # OData leaves division by zero to the service: no value, so no comparison holds.
        return None
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    return a / b if op == "div" else a % b


def evaluate(node: Node, get: Getter) -> Any:
    """The value of `node` for the entity whose properties `get` answers."""
    kind = node[0]
    if kind == "literal":
        return node[1]
    if kind == "prop":
        return get(node[1])
    if kind == "and":
        return bool(evaluate(node[1], get)) and bool(evaluate(node[2], get))
    if kind == "or":
        return bool(evaluate(node[1], get)) or bool(evaluate(node[2], get))
    if kind == "not":
        return not evaluate(node[1], get)
    if kind == "cmp":
        return _compare(node[1], evaluate(node[2], get), evaluate(node[3], get))
    if kind == "arith":
        left, right = evaluate(node[2], get), evaluate(node[3], get)
        if left is None or right is None:
            return None
        return _arith(node[1], left, right)
    args = [evaluate(arg, get) for arg in node[2:]]
    if any(a is None for a in args):
        return None
    return FUNCTIONS[node[1]][1](*args)


@dataclass(frozen=True, slots=True)
class TimeBounds:
    """[start, end) in ms that every entity a filter keeps lies in (None: unbounded)."""

    start_ms: int | None = None
    end_ms: int | None = None


def time_bounds(node: Node | None, prop: str) -> TimeBounds:
    """The range of `prop` implied by the top-level `and` terms of a filter comparing it."""
    start: int | None = None
    end: int | None = None
    terms = _conjuncts(node) if node is not None else []
    for term in terms:
        if term[0] != "cmp" or term[2] != ("prop", prop) or term[3][0] != "literal":
            continue
        value = term[3][1]
        if not isinstance(value, dt.datetime):
            continue
        # Points are stamped in whole ms: each bound is the exact range of ms the term keeps.
        us = (value - _EPOCH) // dt.timedelta(microseconds=1)
        floor_ms, ceil_ms = us // 1000, -(-us // 1000)
        low = {"gt": floor_ms + 1, "ge": ceil_ms, "eq": ceil_ms}.get(term[1])
        high = {"lt": ceil_ms, "le": floor_ms + 1, "eq": floor_ms + 1}.get(term[1])
        if low is not None:
            start = low if start is None else max(start, low)
        if high is not None:
            end = high if end is None else min(end, high)
    return TimeBounds(start, end)


def _conjuncts(node: Node) -> list[Node]:
    if node[0] == "and":
        return _conjuncts(node[1]) + _conjuncts(node[2])
    return [node]


def only_time(node: Node | None, prop: str) -> bool:
    """Whether the filter is nothing but `and`-ed comparisons of `prop` with datetimes."""
    if node is None:
        return True
    return all(
        t[0] == "cmp"
        and t[1] != "ne"
        and t[2] == ("prop", prop)
        and t[3][0] == "literal"
        and isinstance(t[3][1], dt.datetime)
        for t in _conjuncts(node)
    )


def properties(node: Node | None) -> set[str]:
    """Every property a filter names."""
    if node is None:
        return set()
    if node[0] == "prop":
        return {node[1]}
    if node[0] == "literal":
        return set()
    found: set[str] = set()
    for child in node[1:]:
        if isinstance(child, tuple):
            found |= properties(child)
    return found
