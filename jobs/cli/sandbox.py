"""`pmo-ledger sandbox`: a connector kind's local stand-in (by default Salesforce's fake org
with the demo PSA data, on HTTPS), in the foreground, to point a connector at.

It needs no configuration and no database: it asks the kind for its stand-in
(`Connector.sandbox()`, which imports the fake only then), prints what the stand-in says about
itself (where it listens, its users, its CA file) and a `[connectors.<name>]` table to paste,
and serves until Ctrl-C or SIGTERM. Any installed kind that ships a sandbox can be served.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from pmo_ledger.connectors.base import SandboxOptions
from pmo_ledger.connectors.registry import installed_kinds
from pmo_ledger.jobs.cli.common import fail, out


def sandbox(
    kind: Annotated[
        str, typer.Option("--kind", help="The connector kind whose stand-in to serve.")
    ] = "salesforce",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", help="Port to listen on (0: any free one).", min=0, max=65535)
    ] = 8443,
    page_size: Annotated[
        int, typer.Option("--page-size", help="Most records per query page.", min=1, max=2000)
    ] = 2000,
    cert_dir: Annotated[
        Path | None,
        typer.Option(
            "--cert-dir",
            help="Keep the CA and server certificate here (made once, reused; "
            "default: a temporary directory).",
            file_okay=False,
        ),
    ] = None,
    dirty: Annotated[
        bool, typer.Option("--dirty", help="Add records a connector must reject or survive.")
    ] = False,
) -> None:
    """Serve a connector kind's local stand-in (Salesforce: the demo PSA org) until
    interrupted."""
    kinds = installed_kinds()
    options = SandboxOptions(
        host=host, port=port, page_size=page_size, cert_dir=cert_dir, dirty=dirty, live=True
    )
    running = kinds[kind].sandbox(options) if kind in kinds else None
    if running is None:
        raise typer.BadParameter(
            f"{kind!r} is not an installed kind that ships a sandbox "
            f"(installed: {', '.join(sorted(kinds))})",
            param_hint="--kind",
        )
    try:
        with ExitStack() as stack:
            try:
                box = stack.enter_context(running)
            except OSError as exc:  # the port is taken, the cert dir cannot be written...
                where = exc.filename or f"cannot listen on {host}:{port}"
                raise fail(f"{where}: {exc.strerror or exc}") from None
            for line in box.lines:
                out(line)
            out("")
            out("Configuration to paste (pmo-ledger.toml):")
            out("")
            for line in toml_snippet(box.table, kind, box.settings):
                out(line)
            out("")
            out("Serving until Ctrl-C.")
            _wait()
    except KeyboardInterrupt:
        out("Stopped.")


def toml_snippet(table: str, kind: str, settings: Mapping[str, Any]) -> list[str]:
    """The `[connectors.<table>]` table that points a connector of `kind` at the stand-in."""
    values = {"kind": kind, **settings}
    # A JSON string is a valid TOML basic string (same escapes), paths with \ included.
    return [f"[connectors.{table}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]


def _wait() -> None:
    """Block until Ctrl-C; SIGTERM stops it as Ctrl-C does."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            time.sleep(3600)
    finally:
        signal.signal(signal.SIGTERM, previous)
