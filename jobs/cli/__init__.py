"""`pmo-ledger`: the operator's command line.

The root callback builds the App (config -> logging; the engine on first use) from the
options and the environment it is handed, and puts it in the typer context; each command
group lives in its own module. `main` is the console script.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pmo_ledger.jobs.app import build_app
from pmo_ledger.jobs.cli import (
    admin,
    chart,
    db,
    demo,
    fx,
    mapping,
    ops,
    plan,
    reconcile,
    report,
    runs,
    sandbox,
    serve,
    sync,
    verify,
)


class LogFormat(StrEnum):
    auto = "auto"
    json = "json"
    console = "console"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Configuration file (default: $PMO_LEDGER_CONFIG, else ./pmo-ledger.toml).",
            dir_okay=False,
        ),
    ] = None,
    log_format: Annotated[
        LogFormat | None,
        typer.Option("--log-format", help="Overrides [logging] format.", case_sensitive=False),
    ] = None,
    log_level: Annotated[
        LogLevel | None,
        typer.Option("--log-level", help="Overrides [logging] level.", case_sensitive=False),
    ] = None,
) -> None:
    """A project ledger for PMOs: actuals, budgets and resources from PSA, ERP and
    project tools in one exact, append-only ledger."""
    app = build_app(
        config,
        os.environ,
        log_format=log_format.value if log_format else None,
        log_level=log_level.value if log_level else None,
    )
    ctx.obj = app
    ctx.call_on_close(app.close)


def make_cli() -> typer.Typer:
    """The `pmo-ledger` command tree (a new one per call: no module-level state)."""
    cli = typer.Typer(
        name="pmo-ledger",
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,  # help texts name TOML tables: [ledger.authority]
        pretty_exceptions_show_locals=False,  # locals may hold secrets
    )
    cli.callback()(_root)
    for module in (db, mapping, fx, ops, admin, runs, reconcile):
        for group in module.groups():
            cli.add_typer(group.app, name=group.name, help=group.help)
    cli.command("sync")(sync.sync)
    cli.command("check")(sync.check)
    cli.command("verify")(verify.verify)
    cli.command("reconcile")(reconcile.reconcile)
    cli.command("demo")(demo.demo)
    cli.command("report")(report.report)
    cli.command("sandbox")(sandbox.sandbox)
    cli.command("serve")(serve.serve)
    cli.command("plan")(plan.plan)
    cli.command("chart")(chart.chart)
    return cli


def main() -> None:
    """Console script entry point."""
    make_cli()(prog_name="pmo-ledger")


__all__ = ["main", "make_cli"]
