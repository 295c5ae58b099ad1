"""`pmo-ledger`: the operator's command line.

The root callback builds the App (config -> logging; the engine on first use) from the
options and the environment it is handed, and puts it in the typer context; each command
group lives in its own module. `main` is the console script.

Commands load lazily: `COMMANDS` names each one's module and its one-line help, and a
module is imported only when its command runs (or its own `--help` is asked for), so
`pmo-ledger --help` and `pmo-ledger connectors` pay for no database or HTTP library
(issue 18, item 7; `bench/startup.py`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core
import typer.main

if TYPE_CHECKING:
    from pmo_ledger.jobs.app import App


@dataclass(frozen=True, slots=True)
class Entry:
    """A command of `pmo-ledger`: the module under jobs/cli that defines it, and either the
    function (`command`) or the name of a group its `groups()` returns; `help` is what
    `pmo-ledger --help` lists, the first sentence of the command's own help."""

    module: str
    help: str
    command: str | None = None


#: name -> where the command lives, in the order `--help` lists them. A new command is one
#: line here (tests/jobs/test_cli_operator.py checks each help against the loaded command).
COMMANDS: dict[str, Entry] = {
    "sync": Entry("sync", "Sync a connector (or --all) into the ledger.", "sync"),
    "check": Entry("sync", "Check a connector can read its source (one line).", "check"),
    "verify": Entry(
        "verify",
        "Compare the source's counts, amounts and hours (a budget stream: its current "
        "budget) per project and currency with the ledger's; store them in control_total "
        "(see v_sync_health).",
        "verify",
    ),
    "reconcile": Entry(
        "reconcile",
        "Run the reconciliation rules and update the variances, or print a read-only report.",
        "reconcile",
    ),
    "demo": Entry(
        "demo", "Load a sample portfolio (PSA + ERP) and print budget vs actual.", "demo"
    ),
    "report": Entry(
        "report",
        "Print budget vs actual per project (counting values only), unmapped postings and "
        "the lines another source's authority keeps from counting, or write the Excel status "
        "workbook (--format xlsx --out FILE).",
        "report",
    ),
    "sandbox": Entry(
        "sandbox",
        "Serve a connector kind's local stand-in (Salesforce: the demo PSA org) until interrupted.",
        "sandbox",
    ),
    "serve": Entry(
        "serve", "Run the service: scheduled syncs and reconciles, and the HTTP API.", "serve"
    ),
    "plan": Entry(
        "plan",
        "Print a project's schedule at a status date: early and late dates, floats, every "
        "critical path, PERT figures and, with --simulate N, the Monte Carlo risk figures.",
        "plan",
    ),
    "chart": Entry(
        "chart",
        "Draw a chart of a project: its Gantt chart, its earned value S-curve or its schedule "
        "risk histogram.",
        "chart",
    ),
    "db": Entry("db", "Schema migrations, aggregates and read-only access for analysts."),
    "map": Entry("mapping", "Map source keys to ledger projects."),
    "fx": Entry("fx", "Exchange rates."),
    "period": Entry("ops", "Close and reopen fiscal periods."),
    "quarantine": Entry("ops", "Records that could not load as they are."),
    "authority": Entry("admin", "Which source counts ([ledger.authority])."),
    "rates": Entry("admin", "Resource cost rates."),
    "project": Entry("admin", "Ledger projects."),
    "connectors": Entry(
        "admin", "Connector kinds and configured connectors (listed without a subcommand)."
    ),
    "template": Entry("excel", "Write an Excel template for budgets or a plan."),
    "import": Entry("excel", "Load one Excel workbook of budgets or a plan into the ledger."),
    "runs": Entry("runs", "Recent sync runs; `runs show ID` for one."),
    "variances": Entry(
        "reconcile",
        "Reconciliation findings; `variances ack ID --note TEXT` to acknowledge one.",
    ),
}


def load_command(name: str) -> Any:
    """The click command `name` of COMMANDS, built from its module (imported now) exactly as
    a Typer registering it directly would."""
    entry = COMMANDS[name]
    module = importlib.import_module(f"pmo_ledger.jobs.cli.{entry.module}")
    holder = typer.Typer(rich_markup_mode=None, add_completion=False)
    holder.callback()(_holder)  # a group, so that a one-command Typer stays a group of it
    if entry.command is not None:
        function: Callable[..., Any] = getattr(module, entry.command)
        holder.command(name)(function)
    else:
        found = [g for g in module.groups() if g.name == name]
        if len(found) != 1:
            raise LookupError(f"{module.__name__}.groups() has no group {name!r}")
        holder.add_typer(found[0].app, name=name, help=found[0].help)
    command = typer.main.get_group(holder).commands[name]
    for param in _params(command):
        if isinstance(param, typer.core.TyperArgument) and param.nargs != 1 and param.metavar:
            param.__class__ = _Repeated  # adds no state: only how help names it
    return command


def _params(command: Any) -> Iterator[Any]:
    """The parameters of a command and, for a group, of its subcommands."""
    yield from command.params
    for sub in getattr(command, "commands", {}).values():
        yield from _params(sub)


class _Repeated(typer.core.TyperArgument):
    """An argument taking one or more values, named `PROJECT...` in the usage line and the
    help (typer otherwise shows its Python type, `PROJECT <list[str]>`, and `{PROJECT}...`)."""

    def _repeated(self) -> str:
        name = f"{self.metavar}..."
        return name if self.required else f"[{name}]"

    def get_usage_pieces(self, ctx: Any) -> list[str]:
        return [self._repeated()]

    def get_help_record(self, ctx: Any) -> tuple[str, str] | None:
        record = super().get_help_record(ctx)
        return None if record is None else (self._repeated(), record[1])


def _holder() -> None:
    """Not a command: `load_command` registers one command under it and takes it out."""


class _Commands(MutableMapping[str, Any]):
    """The root group's commands: every name of COMMANDS, each built on first lookup. Its
    keys are all the names (typer's "Did you mean ...?" suggests from them)."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = load_command(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(COMMANDS), **self._built})

    def __len__(self) -> int:
        return len({*COMMANDS, *self._built})


class LazyGroup(typer.core.TyperGroup):
    """The root group: lists COMMANDS with their table help and builds a command on use."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands()

    def list_commands(self, ctx: Any) -> list[str]:
        return list(self.commands)  # the names: no command is built

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """TyperGroup's listing, of stand-ins that carry the table's help: listing the
        commands imports none of them."""
        listed = typer.core.TyperGroup(
            commands=[typer.core.TyperCommand(name, help=e.help) for name, e in COMMANDS.items()]
        )
        listed.format_commands(ctx, formatter)


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


def build_app(*args: Any, **kwargs: Any) -> App:
    """`jobs.app.build_app`, imported when a command runs: `--help` loads no configuration
    (tests replace this name to hand a command an App of their own)."""
    from pmo_ledger.jobs.app import build_app as build

    return build(*args, **kwargs)


def make_cli() -> typer.Typer:
    """The `pmo-ledger` command tree (a new one per call: no module-level state)."""
    cli = typer.Typer(
        name="pmo-ledger",
        cls=LazyGroup,
        no_args_is_help=True,
        add_completion=False,
        rich_markup_mode=None,  # help texts name TOML tables: [ledger.authority]
        pretty_exceptions_show_locals=False,  # locals may hold secrets
    )
    cli.callback()(_root)
    return cli


def main() -> None:
    """Console script entry point."""
    make_cli()(prog_name="pmo-ledger")


__all__ = ["COMMANDS", "Entry", "load_command", "main", "make_cli"]
