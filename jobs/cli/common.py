"""What every command shares: the App from the typer context, one transaction per command,
operator errors as one `error: ...` line on stderr (exit 1), and output helpers.

Operator errors are the ledger's own refusals (AdminError, MappingError, FxFileError are
ValueErrors; LookupError), unreadable files, database errors and alembic's refusals. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from pmo_ledger.jobs.app import App, SchemaNotCurrentError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Group:
    """A command group of the CLI: `pmo-ledger NAME ...`."""

    name: str
    help: str
    app: typer.Typer


def group(name: str, help: str) -> Group:
    """A new, empty command group."""
    return Group(name, help, sub_typer(help))


def sub_typer(help: str) -> typer.Typer:
    """A command group's Typer: help without rich markup (texts name TOML tables)."""
    return typer.Typer(no_args_is_help=True, help=help, rich_markup_mode=None)


def app_of(ctx: typer.Context) -> App:
    """The App the root callback built for this invocation."""
    app = ctx.find_root().obj
    if not isinstance(app, App):
        raise RuntimeError("the root callback did not build the App")
    return app


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr; the caller raises the returned Exit(1)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


@contextmanager
def reported(app: App) -> Iterator[None]:
    """Turn operator errors raised in the block into one `error:` line and exit 1."""
    # Imported here: a command that uses no database (`connectors`) loads no SQLAlchemy.
    from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

    try:
        yield
    except SchemaNotCurrentError as exc:
        raise fail(str(exc)) from None
    except ArgumentError as exc:
        raise fail(
            f"cannot use the ledger URL {app.url}: {app.scrub(_one_line(str(exc)))}"
        ) from None
    except OperationalError as exc:
        reason = app.scrub(_one_line(str(exc.orig) if exc.orig is not None else str(exc)))
        raise fail(f"cannot reach the ledger database: {app.url}: {reason}") from None
    except DBAPIError as exc:
        reason = app.scrub(_one_line(str(exc.orig) if exc.orig is not None else str(exc)))
        raise fail(f"the ledger database refused the change: {reason}") from None
    except OSError as exc:
        name = f"{exc.filename}: " if exc.filename else ""
        raise fail(f"{name}{exc.strerror or exc}") from None
    except (ValueError, LookupError) as exc:
        # str() of a KeyError (a LookupError) is quoted; its argument is the message.
        text = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        raise fail(_one_line(str(text))) from None
    except Exception as exc:
        if not _alembic_refused(exc):
            raise
        raise fail(_one_line(str(exc))) from None


def _alembic_refused(exc: BaseException) -> bool:
    """An alembic CommandError (unknown revision, no path to it...), recognised without
    importing alembic: only the commands that migrate load it."""
    error = getattr(sys.modules.get("alembic.util"), "CommandError", None)
    return isinstance(error, type) and isinstance(exc, error)


@contextmanager
def ledger_transaction(ctx: typer.Context) -> Iterator[Session]:
    """The command's one transaction, committed at the end of the block; the database must be
    at the migration head first. Operator errors exit 1 with one line."""
    app = app_of(ctx)
    with reported(app):
        app.require_head()
        with app.transaction() as session:
            yield session


@contextmanager
def ledger_reading(ctx: typer.Context) -> Iterator[Session]:
    """A read-only session on a database at the migration head."""
    app = app_of(ctx)
    with reported(app):
        app.require_head()
        with app.reading() as session:
            yield session


def console() -> Console:
    """A console on the current stdout (made per call: tests swap sys.stdout). A terminal, or
    an explicit COLUMNS, sets the width tables must fit; output that goes to a pipe or a file
    without COLUMNS gets whole table rows (see `fits_width`)."""
    c = Console(highlight=False)
    if not fits_width(c):
        c.width = max(c.width, 120)
    return c


def fits_width(c: Console) -> bool:
    """Whether tables must fit the console's width (a terminal, or COLUMNS set): they fold
    and wrap their cells; otherwise (a pipe, a file) they are as wide as their rows."""
    return c.is_terminal or os.environ.get("COLUMNS", "").isdigit()


def out(message: str) -> None:
    """One plain line on stdout."""
    typer.echo(message)


def money(value: Decimal | None) -> str:
    """An exact amount with 2 places (no float on the way), '' for None."""
    return "" if value is None else str(value.quantize(CENT))


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 line', '3 lines'."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def table(title: str | None, *columns: str, numeric: tuple[str, ...] = ()) -> Table:
    """A rich table; numeric columns right-aligned and never wrapped."""
    t = Table(title=title, title_justify="left")
    for name in columns:
        right = name in numeric
        t.add_column(name, justify="right" if right else "left", no_wrap=right, overflow="fold")
    return t
