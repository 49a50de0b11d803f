"""Log records as JSON lines or text, with secrets masked in both."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from core.logs import JsonFormatter, MaskingFilter, TextFormatter, mask, setup_logging

TOKEN = "shk_0123456789ab_S3cr3tPartOfTheKeyThatMustNeverBeLogged"


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing JSON lines into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(MaskingFilter())
    handler.setFormatter(JsonFormatter("ingest"))
    logger = logging.getLogger(f"test.logs.{id(buffer)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def _lines(buffer: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_record_is_one_json_object_with_service_and_level(captured) -> None:  # type: ignore[no-untyped-def]
    """Lines parse alone; fields name the service, level, logger and the formatted message."""
    logger, buffer = captured
    logger.info("stored %d readings", 42)
    logger.warning("store slow\nsecond line of the message")
    first, second = _lines(buffer)
    assert first["service"] == "ingest" and first["level"] == "INFO"
    assert first["message"] == "stored 42 readings"
    assert first["logger"] == logger.name and str(first["time"]).endswith("+00:00")
    assert second["message"] == "store slow\nsecond line of the message"
    assert len(buffer.getvalue().splitlines()) == 2


def test_tenant_site_and_device_come_from_extra_or_the_topic(captured) -> None:  # type: ignore[no-untyped-def]
    """`extra` wins; otherwise a device topic in the message names them; else they are absent."""
    logger, buffer = captured
    logger.warning("dead-lettered shinshu/v1/alpha/kawakami-01/pi-7/up: unknown kind")
    logger.info("rotated", extra={"tenant": "beta", "device": "pi-2"})
    logger.info("nothing of a tenant here")
    topic, extra, plain = _lines(buffer)
    assert (topic["tenant"], topic["site"], topic["device"]) == ("alpha", "kawakami-01", "pi-7")
    assert (extra["tenant"], extra["device"]) == ("beta", "pi-2") and "site" not in extra
    assert not {"tenant", "site", "device"} & set(plain)


def test_fields_are_merged_and_tracebacks_are_one_field(captured) -> None:  # type: ignore[no-untyped-def]
    """A `fields` extra becomes the object's own keys; an exception is the `error` field."""
    logger, buffer = captured
    logger.info("GET /x 200", extra={"fields": {"status": 200, "route": "/x"}})
    try:
        raise RuntimeError(f"broker refused mqtt://ingest:{TOKEN}@broker:1883")
    except RuntimeError:
        logger.exception("failed")
    access, failure = _lines(buffer)
    assert access["status"] == 200 and access["route"] == "/x"
    assert "RuntimeError" in str(failure["error"])
    assert "S3cr3t" not in buffer.getvalue()


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("connecting to mqtts://shinshu-ingest:hunter2-long@broker:8883", "hunter2-long"),
        ("influx http://admin:pa55w0rd@db:8086/query", "pa55w0rd"),
        (f"key {TOKEN} refused", "S3cr3tPartOfTheKeyThatMustNeverBeLogged"),
    ],
)
def test_secrets_are_masked_in_messages_and_arguments(
    captured,  # type: ignore[no-untyped-def]
    text: str,
    hidden: str,
) -> None:
    """Passwords in URLs and key secrets never reach the line, as message or as argument."""
    logger, buffer = captured
    logger.info(text)
    logger.info("%s", text)
    assert hidden not in buffer.getvalue()
    assert all("***" in line["message"] for line in _lines(buffer))  # type: ignore[operator]
    assert hidden not in mask(text) and "shk_0123456789ab_" in mask(f"{TOKEN}")


def test_the_text_format_masks_tracebacks_too() -> None:
    """Plain lines are masked as a whole, traceback included."""
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise ValueError("mqtt://u:verysecret@h")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = TextFormatter().format(record)
    assert "verysecret" not in line and "ValueError" in line


def test_setup_refuses_an_unknown_format() -> None:
    """Only text and json exist."""
    with pytest.raises(ValueError, match="text, json"):
        setup_logging("INFO", "xml")
