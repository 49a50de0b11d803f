"""Score a ``timestamp,value`` CSV file with the streaming detector."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from models.anomaly.detector import StreamingDetector
from models.errors import ModelError

SCORE_COLUMN = "anomaly_score"


class CsvFormatError(ModelError, ValueError):
    """Malformed input CSV; ``line`` is the 1-based line number in the file."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        """Build the error with a ``path:line: message`` text."""
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line


def parse_timestamp_ms(text: str) -> int:
    """Parse ``2014-04-10 00:00:00`` or ISO 8601 (naive means UTC) into epoch milliseconds."""
    stamp = datetime.fromisoformat(text.strip())
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def parse_value(text: str) -> float:
    """Parse a reading; an empty cell is a missing value (NaN), anything else must be numeric."""
    text = text.strip()
    return math.nan if text == "" else float(text)


def score_csv(
    in_path: Path,
    out_path: Path,
    make_detector: Callable[[], StreamingDetector] = StreamingDetector,
) -> int:
    """Write ``in_path`` rows plus an ``anomaly_score`` column to ``out_path``; return row count.

    Extra columns are kept in place; an existing ``anomaly_score`` column is overwritten.
    Raises ``CsvFormatError`` (a ``ValueError``) naming the line of the first bad row.
    """
    in_path, out_path = Path(in_path), Path(out_path)
    detector = make_detector()
    rows = 0
    with in_path.open(newline="", encoding="utf-8-sig") as src:
        reader = csv.reader(src)
        header = next(reader, None)
        if header is None:
            raise CsvFormatError(in_path, 1, "empty file, expected a header with timestamp,value")
        names = [h.strip().lower() for h in header]
        missing = [c for c in ("timestamp", "value") if c not in names]
        if missing:
            raise CsvFormatError(in_path, 1, f"header lacks column(s) {', '.join(missing)}")
        ts_col, val_col = names.index("timestamp"), names.index("value")
        out_header = list(header)
        score_col = names.index(SCORE_COLUMN) if SCORE_COLUMN in names else len(out_header)
        if score_col == len(out_header):
            out_header.append(SCORE_COLUMN)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with out_path.open("w", newline="", encoding="utf-8") as dst:
            writer = csv.writer(dst, lineterminator="\n")
            writer.writerow(out_header)
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise CsvFormatError(
                        in_path, line, f"expected {len(header)} fields, found {len(row)}"
                    )
                try:
                    stamp = parse_timestamp_ms(row[ts_col])
                except ValueError as exc:
                    raise CsvFormatError(in_path, line, f"bad timestamp {row[ts_col]!r}") from exc
                try:
                    value = parse_value(row[val_col])
                except ValueError as exc:
                    raise CsvFormatError(
                        in_path, line, f"non-numeric value {row[val_col]!r}"
                    ) from exc
                score = detector.score_one(stamp, value)
                out = list(row)
                if score_col == len(row):
                    out.append(f"{score:.6f}")
                else:
                    out[score_col] = f"{score:.6f}"
                writer.writerow(out)
                rows += 1
    return rows
