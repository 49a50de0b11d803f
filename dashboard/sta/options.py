"""The query options of one request (or of one `$expand`-ed navigation), parsed and checked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dashboard.sta.odata import Node, QueryOptionError, parse_filter

DEFAULT_TOP = 100
MAX_TOP = 10_000
MAX_SKIP = 10_000_000
MAX_EXPAND_DEPTH = 4
SUPPORTED = frozenset({"$filter", "$select", "$expand", "$orderby", "$top", "$skip", "$count"})


@dataclass(frozen=True)
class Options:
    """What a request asks of a collection: filter, order, page, properties and expansions."""

    filter: Node | None = None
    orderby: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    top: int = DEFAULT_TOP
    skip: int = 0
    count: bool = False
    select: tuple[str, ...] = ()
    expand: dict[str, Options] = field(default_factory=dict)


def _split(text: str, sep: str) -> list[str]:
    """`text` split at `sep` outside parentheses and quotes."""
    parts, depth, quoted, current = [], 0, False, []
    for char in text:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise QueryOptionError(f"unbalanced parentheses in {text!r}")
        if char == sep and depth == 0 and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0 or quoted:
        raise QueryOptionError(f"unbalanced parentheses or quotes in {text!r}")
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _int(name: str, text: str, high: int) -> int:
    if not text.strip().isdigit():
        raise QueryOptionError(f"{name} must be a whole number ≥ 0, not {text!r}")
    value = int(text)
    if value > high:
        raise QueryOptionError(f"{name} may be at most {high}")
    return value


def _orderby(text: str) -> tuple[tuple[str, bool], ...]:
    out = []
    for part in _split(text, ","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryOptionError(f"$orderby: cannot read {part!r} (property [asc|desc])")
        out.append((words[0], len(words) == 2 and words[1] == "desc"))
    return tuple(out)


def _expand(text: str, depth: int) -> dict[str, Options]:
    if depth > MAX_EXPAND_DEPTH:
        raise QueryOptionError(f"$expand may be nested at most {MAX_EXPAND_DEPTH} deep")
    out: dict[str, Options] = {}
    for part in _split(text, ","):
        name, _, rest = part.partition("(")
        name = name.strip()
        if not name:
            raise QueryOptionError(f"$expand: cannot read {part!r}")
        inner: dict[str, str] = {}
        if rest:
            if not rest.endswith(")"):
                raise QueryOptionError(f"$expand: cannot read {part!r}")
            for option in _split(rest[:-1], ";"):
                key, eq, value = option.partition("=")
                if not eq:
                    raise QueryOptionError(f"$expand: cannot read option {option!r}")
                inner[key.strip()] = value
        # `Datastreams/Observations` is `Datastreams($expand=Observations)`.
        head, slash, tail = name.partition("/")
        if slash:
            inner["$expand"] = ",".join(x for x in (inner.get("$expand"), tail) if x)
        out[head] = parse_options(inner, depth + 1)
    return out


def parse_options(params: Mapping[str, str], depth: int = 0) -> Options:
    """The options of `params`; unknown `$` options and malformed values are a 400."""
    unknown = sorted(k for k in params if k.startswith("$") and k not in SUPPORTED)
    if unknown:
        raise QueryOptionError(f"query option(s) not supported: {', '.join(unknown)}")
    count_text = params.get("$count", "false").strip().lower()
    if count_text not in ("true", "false"):
        raise QueryOptionError("$count must be true or false")
    select = tuple(s for s in _split(params.get("$select", ""), ",") if s)
    return Options(
        filter=parse_filter(params["$filter"]) if params.get("$filter", "").strip() else None,
        orderby=_orderby(params["$orderby"]) if params.get("$orderby", "").strip() else (),
        top=_int("$top", params["$top"], MAX_TOP) if "$top" in params else DEFAULT_TOP,
        skip=_int("$skip", params["$skip"], MAX_SKIP) if "$skip" in params else 0,
        count=count_text == "true",
        select=select,
        expand=_expand(params["$expand"], depth) if params.get("$expand", "").strip() else {},
    )
