"""Stored receipts: ingest tells a device which of its batches are in the store.

Downlink topic `shinshu/v1/{tenant}/{site}/{device}/ack`, payload `{"v": 1, "seqs": [3, 4]}`.
A device keeps a batch until its receipt comes, so a broker that acknowledged a batch and then
crashed before saving it costs a re-send, not the readings. Standard library only.
"""

from __future__ import annotations

import json

from edge.protocol import Channel, DeviceTopic

RECEIPT_VERSION = 1
MAX_RECEIPT_SEQS = 10_000


def receipt_topic(device: DeviceTopic) -> str:
    """The topic on which `device` hears which of its batches are stored."""
    return device.topic(Channel.ACK)


def encode_receipt(seqs: list[int]) -> bytes:
    """The payload confirming batches `seqs`."""
    return json.dumps({"v": RECEIPT_VERSION, "seqs": seqs}, separators=(",", ":")).encode()


def decode_receipt(payload: bytes) -> list[int]:
    """The batch numbers a receipt confirms; ValueError if it is not a receipt."""
    if len(payload) > 16 * MAX_RECEIPT_SEQS:
        raise ValueError("receipt too large")
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"receipt is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or type(doc.get("v")) is not int or doc["v"] != RECEIPT_VERSION:
        raise ValueError("receipt of an unknown version")
    seqs = doc.get("seqs")
    if not isinstance(seqs, list) or len(seqs) > MAX_RECEIPT_SEQS:
        raise ValueError("receipt 'seqs' must be a list of batch numbers")
    if not all(type(seq) is int and seq >= 0 for seq in seqs):
        raise ValueError("receipt 'seqs' must be non-negative integers")
    return seqs
