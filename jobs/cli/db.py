"""`pmo-ledger db upgrade | downgrade REV | current | rebuild-aggregates [--source S]`."""

from __future__ import annotations

from typing import Annotated

import typer

from jobs.cli.common import Group, app_of, group, ledger_transaction, out, reported
from ledger import aggregates, migrate
from ledger.models import utcnow


def groups() -> list[Group]:
    db = group("db", "Schema migrations and aggregates.")
    db.app.command("upgrade")(upgrade)
    db.app.command("downgrade")(downgrade)
    db.app.command("current")(current)
    db.app.command("rebuild-aggregates")(rebuild_aggregates)
    return [db]


def _revision(ctx: typer.Context) -> str:
    engine = app_of(ctx).engine
    rev = migrate.current(engine)
    if rev is None:
        return "none (empty database)"
    return f"{rev} (head)" if rev in migrate.heads(engine) else rev


def upgrade(ctx: typer.Context) -> None:
    """Migrate the ledger database to the current schema."""
    app = app_of(ctx)
    with reported(app):
        before = migrate.current(app.engine)
        migrate.upgrade(app.engine)
        after = _revision(ctx)
    if before is not None and after.startswith(before):
        out(f"{app.url} is already at {after}")
    else:
        out(f"upgraded {app.url} to {after}")


def downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops everything.")],
) -> None:
    """Migrate the ledger database down to REVISION."""
    app = app_of(ctx)
    with reported(app):
        migrate.downgrade(app.engine, revision)
        after = _revision(ctx)
    out(f"downgraded {app.url} to {after}")


def current(ctx: typer.Context) -> None:
    """Print the revision the ledger database is at."""
    with reported(app_of(ctx)):
        out(_revision(ctx))


def rebuild_aggregates(
    ctx: typer.Context,
    source: Annotated[
        str | None, typer.Option("--source", help="Only this connector's aggregates.")
    ] = None,
) -> None:
    """Rebuild actual_period_total from the lines and clear the stale flags."""
    with ledger_transaction(ctx) as session:
        stale = aggregates.stale_sources(session)
        aggregates.rebuild(session, source, now=utcnow())
    what = f"source {source}" if source else "every source"
    was = f" (stale before: {', '.join(stale)})" if stale else ""
    out(f"rebuilt the aggregates of {what}{was}")
