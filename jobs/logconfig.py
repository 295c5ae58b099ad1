"""Logging: structlog set up once; stdlib logging (alembic, sqlalchemy, warnings) goes through it.

Every line carries an ISO UTC `timestamp`, `level`, the context variables bound with
`structlog.contextvars.bind_contextvars` (run_id, connector, stream) and has its secrets masked;
it is rendered as JSON (service, pipes) or for a terminal.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal
from uuid import UUID

import structlog
from pydantic import BaseModel, SecretBytes, SecretStr
from structlog.typing import EventDict, Processor, WrappedLogger

MASK = "***"
SECRET_KEYS = re.compile(
    r"password|passwd|secret|token|authorization|session|api_key|private_key|cookie",
    re.IGNORECASE,
)
_HANDLER_NAME = "pmo-ledger"
#: Libraries whose INFO and DEBUG lines name URLs that may carry credentials.
#: Loggers that pass warnings and errors only. httpx logs every request's full URL at INFO
#: (webhook URLs carry their credentials); alembic logs "Context impl" and "Running upgrade"
#: lines at INFO whenever a command checks the schema.
QUIET_LOGGERS = ("httpx", "httpcore", "alembic")
#: Loggers that pass errors only: urllib3 warns "Retrying (Retry(...)) after connection broken
#: by ..." on each retry, the pool's internals; the connector reports the failure in one line.
SILENT_LOGGERS = ("urllib3",)
#: Events an operator needs at any level: where `serve` listens.
ANNOUNCE_LOGGER = "pmo_ledger.announce"


def mask_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: '***' for values under secret-looking keys and for SecretStr values,
    in nested mappings and lists too; pydantic models are dumped first (their secrets masked)."""
    return {key: _masked(key, value) for key, value in event_dict.items()}


def _masked(key: object, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(key, str) and key != "event" and SECRET_KEYS.search(key):
        return MASK
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {k: _masked(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(None, v) for v in value]
    return value


def _json_default(value: object) -> object:
    if isinstance(value, Decimal | UUID | Path):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return repr(value)


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ValueError(f"unknown log level {level!r}")
    return number


def _isatty(stream: IO[str]) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(
    fmt: Literal["auto", "json", "console"] = "auto",
    level: str | int = "INFO",
    stream: IO[str] | None = None,
) -> None:
    """Configure structlog and the stdlib root logger to write to `stream` (default stderr).

    JSON when fmt="json" or (fmt="auto" and the stream is not a terminal). Calling it again
    replaces the previous configuration (no duplicate handlers).
    """
    out = stream if stream is not None else sys.stderr
    as_json = fmt == "json" or (fmt == "auto" and not _isatty(out))
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        mask_secrets,
    ]
    renderer: Processor
    if as_json:
        renderer = structlog.processors.JSONRenderer(default=_json_default)
        tail: list[Processor] = [structlog.processors.format_exc_info, renderer]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=_isatty(out))
        tail = [renderer]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        context_class=dict,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    _remove_handler(root)
    root.addHandler(handler)
    root.setLevel(_level_number(level))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, _level_number(level)))
    for name in SILENT_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.ERROR, _level_number(level)))
    logging.getLogger(ANNOUNCE_LOGGER).setLevel(logging.INFO)
    logging.captureWarnings(True)  # SQLAlchemy / alembic warnings come out as log lines


def reset_logging() -> None:
    """Undo configure_logging (for tests): structlog defaults, our handler removed."""
    _remove_handler(logging.getLogger())
    logging.captureWarnings(False)
    structlog.reset_defaults()


def _remove_handler(root: logging.Logger) -> None:
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)


__all__ = [
    "ANNOUNCE_LOGGER",
    "MASK",
    "SECRET_KEYS",
    "configure_logging",
    "mask_secrets",
    "reset_logging",
]
