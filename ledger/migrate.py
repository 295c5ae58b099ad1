"""Schema migrations through Alembic: `pmo-ledger db upgrade | downgrade REV | current`."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic config whose env.py runs on `engine` (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(files("pmo_ledger.migrations")))
    # ConfigParser interpolates `%`: a percent-encoded password (`p%40ss`) must be doubled.
    url = engine.url.render_as_string(hide_password=False)
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to `revision` ('base' drops everything)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def heads(engine: Engine) -> list[str]:
    """The head revisions of the migration scripts."""
    return list(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def at_head(engine: Engine) -> bool:
    """True when the database is migrated to the single head."""
    return current(engine) in heads(engine)
