"""Score every CSV under DATA_DIR into OUT_DIR (same folder layout) and report throughput.

Usage: python bench/nab.py DATA_DIR OUT_DIR
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

# Allow running as a plain script from the repository root without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.anomaly import score_csv


def main(argv: list[str]) -> int:
    """Score all CSV files and print per-file and total rows/s; return the exit status."""
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    data_dir, out_dir = Path(argv[0]), Path(argv[1])
    files = sorted(p for p in data_dir.rglob("*.csv") if p.is_file())
    if not files:
        print(f"no CSV files under {data_dir}", file=sys.stderr)
        return 1
    total_rows = 0
    total_time = 0.0
    for path in files:
        rel = path.relative_to(data_dir)
        start = time.perf_counter()
        rows = score_csv(path, out_dir / rel)
        elapsed = time.perf_counter() - start
        total_rows += rows
        total_time += elapsed
        print(f"{rel}: {rows} rows, {rows / max(elapsed, 1e-9):,.0f} rows/s")
    rate = total_rows / max(total_time, 1e-9)
    print(f"total: {len(files)} files, {total_rows} rows, {rate:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
