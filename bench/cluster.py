"""Cluster benchmark launcher: `python bench/cluster.py --help` (code: bench/_cluster.py)."""

import sys
from pathlib import Path

# Run as a script, bench/ingest.py would shadow the `ingest` package it measures.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._cluster import main  # noqa: E402

if __name__ == "__main__":
    main()
