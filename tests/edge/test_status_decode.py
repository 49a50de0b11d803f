"""Receivers decode what the agent's status documents say, and refuse what is not one."""

from __future__ import annotations

import pytest

from edge.clock import ClockState
from edge.protocol import ProtocolError
from edge.spool import SpoolStats
from edge.status import AgentState, Health, decode_status, offline_document, status_document


def test_the_agents_own_documents_decode() -> None:
    """An online status and the last will come back with their figures."""
    online = status_document(
        device="pi-1",
        state=AgentState.ONLINE,
        now_ms=1_700_000_000_000,
        clock=ClockState.SYNCED,
        spool=SpoolStats(readings=12, bytes=3_000, dropped=4, unacked_batches=1),
        spool_max_bytes=1 << 20,
        sensors=(),
        health=Health([]),
    )
    report = decode_status(online)
    assert report.device == "pi-1" and report.state is AgentState.ONLINE
    assert (report.spool_readings, report.spool_dropped, report.unacked_batches) == (12, 4, 1)
    assert report.time_ms == 1_700_000_000_000 and report.reconnects == 0
    will = decode_status(offline_document("pi-1"))
    assert will.state is AgentState.OFFLINE and will.spool_readings is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff", "UTF-8"),
        (b"[1]", "JSON object"),
        (b'{"v":2,"device":"a","state":"online"}', "v = 1"),
        (b'{"v":1,"state":"online"}', "no device"),
        (b'{"v":1,"device":"a","state":"asleep"}', "unknown agent state"),
        (b'{"v":1,"device":"a","state":"online","spool":{"readings":-1}}', "non-negative"),
        (b'{"v":1,"device":"a","state":"online","spool":[]}', "objects"),
        (b'{"v":1,"device":"a","state":"online","version":"' + b"x" * 300 + b'"}', "short"),
    ],
)
def test_malformed_status_is_refused_with_a_reason(payload: bytes, reason: str) -> None:
    """Each defect names itself."""
    with pytest.raises(ProtocolError, match=reason):
        decode_status(payload)
