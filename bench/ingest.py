"""Ingest benchmark launcher: `python bench/ingest.py --help` (the code is in bench/_ingest.py)."""

import sys
from pathlib import Path

# Run as a script, this file would shadow the `ingest` package it measures.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._ingest import main  # noqa: E402

if __name__ == "__main__":
    main()
