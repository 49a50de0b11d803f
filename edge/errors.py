"""`EdgeError`: the root of the agent's own errors.

The agent runs on a Pi with the standard library and paho only, so its errors cannot derive
from the server's `core.errors.ShinshuError`; they form this sub-tree of their own instead.
"""

from __future__ import annotations


class EdgeError(Exception):
    """Base of every error the edge agent raises on purpose."""
