"""What one command needs, built in order: config -> logging -> engine -> session factory.

The CLI (and later the service) calls `build_app` once per invocation with the environment it
was started with; nothing here reads the environment or keeps module-level state. The engine
is created on first use, so `--help` and config errors never touch the database, and SQLAlchemy
is imported then too: commands that need no database (`connectors`) start without it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pmo_ledger.connectors.base import Connector, ConnectorContext
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.registry import build_connector
from pmo_ledger.jobs.config import AppConfig, load_or_exit
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.urls import mask_url, scrub

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

LogFormat = Literal["auto", "json", "console"]
UPGRADE_HINT = "run: pmo-ledger db upgrade"


class SchemaNotCurrentError(RuntimeError):
    """The ledger database is not migrated to the head revision of the code."""

    def __init__(self) -> None:
        super().__init__(f"the ledger database is not at the current schema ({UPGRADE_HINT})")


@dataclass
class App:
    """A command's configuration and its (lazily created) ledger engine and sessions."""

    config: AppConfig
    config_path: Path | None = None
    _engine: Engine | None = field(default=None, repr=False)
    _sessions: sessionmaker[Session] | None = field(default=None, repr=False)

    @property
    def settings(self) -> LedgerSettings:
        return self.config.ledger

    @property
    def url(self) -> str:
        """The ledger URL with its password and secret parameters masked (ledger.urls)."""
        return mask_url(self.settings.url)

    def scrub(self, text: str) -> str:
        """`text` with the ledger URL's secrets, if any, replaced by '***'."""
        return scrub(text, self.settings.url)

    def connector(self, name: str) -> Connector:
        """The configured connector `name`, built with its settings and the ledger's calendar.
        Raises ConnectorConfigError for an unknown name or bad settings."""
        cfg = self.config.connectors.get(name)
        if cfg is None:
            known = ", ".join(sorted(self.config.connectors)) or "none configured"
            raise ConnectorConfigError(f"unknown connector {name!r} (configured: {known})")
        context = ConnectorContext(
            name, cfg.connect_timeout, cfg.read_timeout, calendar=self.settings.calendar
        )
        return build_connector(name, cfg.kind, cfg.settings, context)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from pmo_ledger.ledger.db import make_engine  # SQLAlchemy: on first use only

            self._engine = make_engine(self.settings.url)
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        if self._sessions is None:
            from pmo_ledger.ledger.db import session_factory

            self._sessions = session_factory(self.engine)
        return self._sessions

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One session in one transaction: committed when the block ends, rolled back on error.
        On SQLite it holds the write lock from its start (`ledger.db.WRITING`)."""
        from pmo_ledger.ledger.db import WRITING

        with self.sessions.begin() as session:
            session.connection(execution_options=WRITING)
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A session for reads; nothing is committed."""
        with self.sessions() as session:
            yield session

    def require_head(self) -> None:
        """Raise SchemaNotCurrentError unless the database is at the migration head."""
        from pmo_ledger.ledger import migrate  # alembic: not at CLI import (`--help`)

        if not migrate.at_head(self.engine):
            raise SchemaNotCurrentError()

    def close(self) -> None:
        """Release the engine's connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = self._sessions = None


def build_app(
    config_path: Path | None,
    environ: Mapping[str, str],
    *,
    log_format: LogFormat | None = None,
    log_level: str | None = None,
) -> App:
    """Load the configuration (exit 2 listing its problems), configure logging (the options
    override `[logging]`) and return the App; the engine is made on first use."""
    config = load_or_exit(config_path, environ)
    configure_logging(log_format or config.logging.format, log_level or config.logging.level)
    return App(config, config_path)
