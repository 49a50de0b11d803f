"""Benchmark beside Node-RED: `python bench/peers.py --help` (the code is in bench/_peers.py)."""

import sys
from pathlib import Path

# Run as a script, this folder would shadow the packages it measures.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._peers import main  # noqa: E402

if __name__ == "__main__":
    main()
