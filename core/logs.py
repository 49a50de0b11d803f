"""Logging for every server process: plain lines or one JSON object per line, secrets masked.

`SHINSHU_LOG_FORMAT=json` writes each record as one object: `time` (UTC, ISO 8601), `level`,
`service`, `logger`, `message`, and `tenant`, `site` and `device` where known: from the
record's `extra`, or read off an MQTT topic (`shinshu/v1/{tenant}/{site}/{device}/…`) named in
the message. A record's `fields` extra (a dict, e.g. the API's access log) is merged in. A
traceback is the `error` field. In both formats, credentials in URLs (`mqtt://user:secret@`)
and the secret part of API keys (`shk_<id>_<secret>`) are masked before anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from typing import Any

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_TOPIC = re.compile(r"shinshu/v1/([^/\s'\"]+)/([^/\s'\"]+)/([^/\s'\"]+)")
_URL_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)
_API_KEY = re.compile(r"\b(shk_[0-9a-f]+_)[A-Za-z0-9_-]+")
_WHERE = ("tenant", "site", "device")


def mask(text: str) -> str:
    """`text` with URL passwords and API key secrets replaced by `***`."""
    return _API_KEY.sub(r"\1***", _URL_CREDENTIALS.sub(r"\1***@", text))


class MaskingFilter(logging.Filter):
    """Masks secrets in every record's message (and its arguments) before it is formatted."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message once, with its arguments applied; always keep it."""
        message = record.getMessage()
        masked = mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        return True


class TextFormatter(logging.Formatter):
    """The plain line format, with secrets masked in tracebacks too."""

    def __init__(self) -> None:
        """Time, level, logger and message."""
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The record as one masked line (and its traceback, masked)."""
        return mask(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def __init__(self, service: str) -> None:
        """Records are stamped with `service` (ingest, alerts, api, …)."""
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        message = record.getMessage()
        out: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": message,
        }
        topic = _TOPIC.search(message)
        for index, name in enumerate(_WHERE):
            value = getattr(record, name, None)
            if value is None and topic is not None:
                value = topic.group(index + 1)
            if value is not None:
                out[name] = str(value)
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update({k: v for k, v in fields.items() if k not in out or v is not None})
        if record.exc_info:
            out["error"] = mask(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(level: str, fmt: str = "text", service: str = "shinshu") -> None:
    """Send every record to stderr in `fmt` (text or json), secrets masked; replaces handlers."""
    if fmt not in FORMATS:
        raise ValueError(f"log format {fmt!r}: use one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(MaskingFilter())
    formatter = JsonFormatter(service) if fmt == "json" else TextFormatter()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
