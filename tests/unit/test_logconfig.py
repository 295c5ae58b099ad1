"""jobs.logconfig: JSON lines with level and UTC timestamp, secrets masked, stdlib routed."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from pmo_ledger.jobs.logconfig import configure_logging, mask_secrets, reset_logging


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """JSON logging into a string buffer, undone after the test."""
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    yield buffer
    reset_logging()
    structlog.contextvars.clear_contextvars()


def lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    """The JSON objects written so far, one per line."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_json_line_has_event_level_and_utc_timestamp(stream: io.StringIO) -> None:
    """A structlog event becomes one JSON line with event, level and an ISO UTC timestamp."""
    structlog.get_logger().info("sync_finished", rows=3)
    [line] = lines(stream)
    assert (line["event"], line["level"], line["rows"]) == ("sync_finished", "info", 3)
    assert line["timestamp"].endswith(("Z", "+00:00"))


def test_password_is_masked(stream: io.StringIO) -> None:
    """A password field is written as '***'."""
    structlog.get_logger().info("login", user="u", password="hunter2")
    [line] = lines(stream)
    assert (line["user"], line["password"]) == ("u", "***")


def test_nested_secret_keys_are_masked_case_insensitively(stream: io.StringIO) -> None:
    """Secret-looking keys are masked inside nested dicts and lists, whatever their case."""
    headers = {"Authorization": "Bearer x", "Accept": "json", "inner": [{"API_KEY": "k"}]}
    structlog.get_logger().info("request", headers=headers)
    [line] = lines(stream)
    assert line["headers"] == {
        "Authorization": "***",
        "Accept": "json",
        "inner": [{"API_KEY": "***"}],
    }


def test_secretstr_values_are_masked(stream: io.StringIO) -> None:
    """A SecretStr value is masked whatever its key is called."""
    structlog.get_logger().info("connect", credential_for_user=SecretStr("hunter2"))
    [line] = lines(stream)
    assert line["credential_for_user"] == "***"


def test_context_variables_are_merged(stream: io.StringIO) -> None:
    """Values bound with bind_contextvars appear on every line."""
    structlog.contextvars.bind_contextvars(run_id=42, connector="psa")
    structlog.get_logger().info("page_read")
    [line] = lines(stream)
    assert (line["run_id"], line["connector"]) == (42, "psa")


def test_stdlib_logging_comes_out_as_json(stream: io.StringIO) -> None:
    """A stdlib warning (alembic, sqlalchemy) is rendered like structlog events, masked too."""
    logging.getLogger("alembic.runtime").warning("upgrade %s", "head", extra={"token": "t"})
    [line] = lines(stream)
    assert (line["event"], line["level"], line["logger"]) == (
        "upgrade head",
        "warning",
        "alembic.runtime",
    )
    assert line["token"] == "***"


def test_level_filters_lower_events() -> None:
    """Events below the configured level are not written."""
    buffer = io.StringIO()
    configure_logging("json", level="WARNING", stream=buffer)
    try:
        structlog.get_logger().info("quiet")
        structlog.get_logger().warning("loud")
    finally:
        reset_logging()
    assert [line["event"] for line in lines(buffer)] == ["loud"]


def test_configuring_twice_writes_each_line_once() -> None:
    """configure_logging is idempotent: no duplicate handlers."""
    buffer = io.StringIO()
    configure_logging("json", stream=buffer)
    configure_logging("json", stream=buffer)
    try:
        logging.getLogger("x").warning("once")
    finally:
        reset_logging()
    assert [line["event"] for line in lines(buffer)] == ["once"]


def test_auto_is_json_when_not_a_terminal() -> None:
    """fmt="auto" writes JSON to a stream that is not a tty."""
    buffer = io.StringIO()
    configure_logging("auto", stream=buffer)
    try:
        structlog.get_logger().info("auto")
    finally:
        reset_logging()
    assert lines(buffer)[0]["event"] == "auto"


def test_console_renderer_masks_too() -> None:
    """The console format masks secrets as well."""
    buffer = io.StringIO()
    configure_logging("console", stream=buffer)
    try:
        structlog.get_logger().info("login", password="hunter2")
    finally:
        reset_logging()
    assert "hunter2" not in buffer.getvalue()
    assert "password=***" in buffer.getvalue()


def test_mask_secrets_processor_alone() -> None:
    """mask_secrets masks session-like keys and leaves other values alone."""
    event = {"event": "x", "session_id": "abc", "count": 2, "none_password": None}
    assert mask_secrets(None, "info", event) == {
        "event": "x",
        "session_id": "***",
        "count": 2,
        "none_password": None,
    }
