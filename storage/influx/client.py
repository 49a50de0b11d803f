"""InfluxDB through the v1-compatible HTTP API (`/write`, `/query`) of InfluxDB 1.x, 2.x and 3.x.

`InfluxStore` is a `ReadingStore`: batches are encoded as line protocol, selects as InfluxQL.
`write_lines` and `query` take those as text, for the store's own modules and for tests.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from core.settings import Settings, reveal
from edge.protocol import DeviceTopic, Reading
from storage.batch import ChannelReadings, Refusals, WriteBatch
from storage.errors import DatabaseNotFoundError, StoreError, StoreUnavailableError
from storage.influx import influxql
from storage.influx.influxql import quote_string
from storage.influx.lineprotocol import point_line, reading_lines, series_lines
from storage.points import Point, PointRefused
from storage.protocol import ReadingStore
from storage.query import Rows, Select, SeriesColumns

__all__ = [
    "DatabaseNotFoundError",
    "InfluxStore",
    "LineRejected",
    "StoreError",
    "StoreUnavailableError",
    "make_store",
    "quote_string",
]

log = logging.getLogger(__name__)

_MSGPACK = "application/x-msgpack"


# A line the store refused, by position in the written lines, with the store's reason.
LineRejected = PointRefused
# The retention policy raw readings are written to and read from when they expire.
RAW_RP = "raw"


class _LineEncoder:
    """Encodes a batch as line protocol while it is filled."""

    def readings(
        self, topic: DeviceTopic, readings: Sequence[Reading], shift_ms: int, missing: int = 0
    ) -> list[str]:
        """The lines of one device's readings."""
        return reading_lines(topic, readings, shift_ms, missing)

    def channel(self, channel: ChannelReadings) -> list[str]:
        """The lines of one sensor channel's readings."""
        return series_lines(
            channel.topic, channel.sensor, channel.kind, channel.ts_ms, channel.values
        )

    def point(self, point: Point) -> str:
        """The line of one point."""
        return point_line(point)


_ENCODER = _LineEncoder()


class InfluxStore(ReadingStore):
    """Writes line protocol and runs InfluxQL for one database."""

    def __init__(
        self,
        http: httpx.Client,
        database: str,
        *,
        token: str | None = None,
        user: str | None = None,
        password: str | None = None,
        gzip_body: bool = False,
        raw_retention_days: int = 0,
    ) -> None:
        """Use `http` (its base_url is the server) for database `database`; with
        `raw_retention_days`, raw readings live in the retention policy `raw` of that duration."""
        self._http = http
        self.database = database
        self._retention_days = raw_retention_days
        self.raw_rp = RAW_RP if raw_retention_days > 0 else None
        self._gzip = gzip_body
        self._headers: dict[str, str] = {}
        self._auth: httpx.BasicAuth | None = None
        if token:
            self._headers["Authorization"] = f"Token {token}"
        elif user and password:
            self._auth = httpx.BasicAuth(user, password)

    def _request(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            return self._http.request(
                method,
                path,
                headers={**self._headers, **(headers or {})},
                auth=self._auth or httpx.USE_CLIENT_DEFAULT,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise StoreUnavailableError(f"InfluxDB unreachable: {exc!r}") from exc

    def ping(self) -> bool:
        """Whether the server answers."""
        try:
            return self._request("GET", "/ping").status_code in (200, 204)
        except StoreUnavailableError:
            return False

    def ready(self) -> bool:
        """Whether the server answers queries (a database not created yet holds nothing)."""
        try:
            self.query("SHOW MEASUREMENTS LIMIT 1")
        except DatabaseNotFoundError:
            return True
        except StoreError:
            return False
        return True

    def ensure_database(self) -> None:
        """Create the database if the credentials allow it (a no-op when it exists)."""
        response = self._request(
            "POST", "/query", data={"q": f"CREATE DATABASE {influxql.quote_ident(self.database)}"}
        )
        if response.status_code >= 500:
            raise StoreUnavailableError(
                f"InfluxDB answered {response.status_code} to CREATE DATABASE"
            )
        if response.status_code != 200:
            log.warning(
                "could not create database %s (%s); assuming it exists",
                self.database,
                response.status_code,
            )
        if self.raw_rp:
            self._ensure_raw_policy()

    def _ensure_raw_policy(self) -> None:
        """Create the raw readings' retention policy, or set its duration if it exists."""
        target = f"{influxql.quote_ident(RAW_RP)} ON {influxql.quote_ident(self.database)}"
        duration = f"DURATION {self._retention_days}d REPLICATION 1"
        try:
            try:
                self.query(f"CREATE RETENTION POLICY {target} {duration}")
            except StoreError as exc:
                if "already exists" not in str(exc):
                    raise
                self.query(f"ALTER RETENTION POLICY {target} {duration}")
        except StoreUnavailableError:
            raise
        except StoreError:
            # An account with rights on its database only may not manage policies: as with
            # CREATE DATABASE, the administrator made it (docs/storage.md).
            log.warning("could not create or alter retention policy %s; assuming it exists", RAW_RP)

    def _post_lines(self, lines: Sequence[str], rp: str | None = None) -> httpx.Response:
        body = ("\n".join(lines)).encode()
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if self._gzip:
            body = gzip.compress(body, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return self._request(
            "POST",
            "/write",
            params={"db": self.database, "precision": "ms", **({"rp": rp} if rp else {})},
            content=body,
            headers=headers,
        )

    def write_lines(self, lines: Sequence[str], offset: int = 0) -> list[LineRejected]:
        """Store `lines`; return the ones the store refused (4xx) — those are not retried.

        Raises StoreUnavailableError when nothing can be known to be stored; the caller retries all.
        """
        if not self.raw_rp:
            return self._write(lines, offset, None)
        # One write names one retention policy: raw readings and the rest go separately.
        raw = [i for i, line in enumerate(lines) if influxql.is_reading_line(line)]
        if len(raw) == len(lines):
            return self._write(lines, offset, self.raw_rp)
        taken = set(raw)
        rest = [i for i in range(len(lines)) if i not in taken]
        refused = []
        for positions, rp in ((raw, self.raw_rp), (rest, None)):
            for r in self._write([lines[i] for i in positions], 0, rp):
                refused.append(LineRejected(offset + positions[r.index], r.reason))
        return sorted(refused, key=lambda r: r.index)

    def _write(self, lines: Sequence[str], offset: int, rp: str | None) -> list[LineRejected]:
        """Store `lines` in retention policy `rp` (the default when None), halving on refusals."""
        if not lines:
            return []
        response = self._post_lines(lines, rp)
        status = response.status_code
        if status == 204:
            return []
        if status == 413 and len(lines) > 1:
            return self._split(lines, offset, rp)
        if status in (401, 403, 404, 429) or status >= 500:
            if status == 404:
                self.ensure_database()
            raise StoreUnavailableError(f"InfluxDB answered {status}: {_error_text(response)}")
        # 400: InfluxDB stored what it could; find the refused lines by halving.
        if len(lines) == 1:
            return [LineRejected(offset, _error_text(response))]
        return self._split(lines, offset, rp)

    def _split(self, lines: Sequence[str], offset: int, rp: str | None) -> list[LineRejected]:
        """Both halves of `lines` written apart, to find the refused ones."""
        middle = len(lines) // 2
        return self._write(lines[:middle], offset, rp) + self._write(
            lines[middle:], offset + middle, rp
        )

    def new_batch(self) -> WriteBatch[str]:
        """An empty batch, encoded as line protocol while it is filled."""
        return WriteBatch(_ENCODER)

    def write_batch(self, batch: WriteBatch[Any]) -> Refusals:
        """Store a batch in one request (halved while InfluxDB refuses some of it)."""
        return batch.refusals(self.write_lines(batch.all_units()))

    def write_points(self, points: Sequence[Point]) -> list[PointRefused]:
        """Store points; the ones InfluxDB refused."""
        return self.write_lines([point_line(p) for p in points])

    def rows(self, select: Select) -> list[Rows]:
        """The answer of one read, asked as one InfluxQL statement."""
        return self.rows_each([select])[0]

    def rows_each(self, selects: Sequence[Select]) -> list[list[Rows]]:
        """The answers of several reads, asked in one request."""
        results = self.query(influxql.statements(selects, self.raw_rp))
        answers = [[_rows(s) for s in result.get("series", [])] for result in results]
        return answers + [[] for _ in range(len(selects) - len(answers))]

    def columns(self, select: Select) -> list[SeriesColumns]:
        """The answer of a read of one numeric field, as arrays (see `query_columns`)."""
        return self.query_columns(influxql.statement(select, self.raw_rp))

    def count_points(self) -> int:
        """How many points the database holds, over every measurement."""
        sources = ["/.*/"] + ([f"{influxql.quote_ident(self.raw_rp)}./.*/"] if self.raw_rp else [])
        results = self.query(";".join(f'SELECT count("value") FROM {s}' for s in sources))
        return sum(int(s["values"][0][1]) for r in results for s in r.get("series", []))

    def query(self, q: str, *, epoch: str = "ms") -> list[dict[str, Any]]:
        """Run InfluxQL and return the `results` list; raise StoreError on an error answer."""
        response = self._request(
            "POST", "/query", data={"q": q, "db": self.database, "epoch": epoch}
        )
        if response.status_code >= 500:
            raise StoreUnavailableError(f"InfluxDB answered {response.status_code}")
        try:
            document = response.json()
        except ValueError as exc:
            raise StoreError(f"InfluxDB answered {response.status_code} without JSON") from exc
        return _results(response.status_code, document)

    def query_columns(self, q: str) -> list[SeriesColumns]:
        """Run a query selecting one numeric field; each series' times (ms) and values as arrays.

        For answers of many thousand points: InfluxDB 1.x encodes MessagePack in less time than
        JSON, the rows are read without a Python object each, and on a local link gzip would
        only burn CPU on both sides. A JSON answer (a server without MessagePack) works too.
        """
        # Imported here: ingest, which only writes, need not load numpy and msgpack.
        from storage.influx import columns

        response = self._request(
            "POST",
            "/query",
            data={"q": q, "db": self.database, "epoch": "ms"},
            # InfluxDB 1.x matches Accept exactly (no lists or weights); a server that does not
            # speak MessagePack is expected to answer JSON, which is read below.
            headers={"Accept": _MSGPACK, "Accept-Encoding": "identity"},
        )
        if response.status_code >= 500:
            raise StoreUnavailableError(f"InfluxDB answered {response.status_code}")
        packed = response.headers.get("content-type", "").startswith(_MSGPACK)
        if packed and response.status_code == 200:
            try:
                return columns.packed_columns(response.content)
            except columns.IrregularAnswerError:
                pass  # an error, or values that are not floats: the general path says which
        try:
            document = columns.unpack(response.content) if packed else response.json()
        except ValueError as exc:  # msgpack's errors are ValueErrors too
            raise StoreError(f"InfluxDB answered {response.status_code} undecodably") from exc
        if not isinstance(document, dict):
            raise StoreError(f"InfluxDB answered {response.status_code} without a document")
        try:
            return columns.document_columns(_results(response.status_code, document))
        except columns.NotNumericError as exc:
            raise StoreError(f"query answered other than numbers: {exc}") from exc


def _rows(series: dict[str, Any]) -> Rows:
    """One series of an answer, typed."""
    return Rows(
        str(series.get("name", "")),
        dict(series.get("tags") or {}),
        tuple(series["columns"]),
        series.get("values", []),
    )


def _results(status: int, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The `results` of a /query answer; StoreError if the answer or a statement failed."""
    if status != 200 or "error" in document:
        raise _query_failed(document.get("error", status))
    results: list[dict[str, Any]] = document.get("results", [])
    for result in results:
        if "error" in result:
            raise _query_failed(result["error"])
    return results


def _query_failed(error: object) -> StoreError:
    """The error for a failed query; its own type when the database does not exist yet."""
    message = f"query failed: {error}"
    if "database not found" in str(error):
        return DatabaseNotFoundError(message)
    return StoreError(message)


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.text))
    except ValueError:
        return response.text[:500] or f"HTTP {response.status_code}"


def make_store(
    settings: Settings, timeout: float = 10.0, *, connections: int | None = None
) -> InfluxStore:
    """The InfluxDB store of `settings` (`storage.open_store` chooses the store)."""
    pool: dict[str, Any] = {}
    if connections:
        pool["limits"] = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections
        )
    http = httpx.Client(
        base_url=settings.influx_url,
        timeout=timeout,
        # Query answers are large on a fast link: gzip would cost both sides more CPU than it
        # saves (exports read hundreds of MB). Writes are compressed if the settings say so.
        headers={"Accept-Encoding": "identity"},
        **pool,
    )
    return InfluxStore(
        http,
        settings.influx_db,
        token=reveal(settings.influx_token),
        user=settings.influx_user,
        password=settings.influx_secret(),
        gzip_body=settings.influx_gzip,
        raw_retention_days=settings.raw_retention_days,
    )
