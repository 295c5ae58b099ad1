"""`pmo-ledger serve [--host H] [--port P]`: the scheduler and the HTTP API until SIGTERM."""

from __future__ import annotations

from typing import Annotated

import typer

from pmo_ledger.jobs.cli.common import app_of, reported
from pmo_ledger.jobs.config import is_loopback


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", metavar="H", help="Overrides [service] host.")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", metavar="P", min=0, max=65535, help="Overrides [service] port."),
    ] = None,
) -> None:
    """Run the service: scheduled syncs and reconciles, and the HTTP API.

    Jobs come from the configuration (each connector's `schedule`, `[reconcile] schedule`);
    overdue connectors run once at start-up. SIGTERM or SIGINT stops it: running syncs stop
    at their next page boundary (at most `[service] stop_timeout`), then it exits 0.
    """
    from pmo_ledger.jobs.service.serve import Service  # uvicorn and FastAPI only for this command

    app = app_of(ctx)
    cfg = app.config.service
    if host is not None and not is_loopback(host) and cfg.api_token is None:
        raise typer.BadParameter(
            f"--host {host} is not a loopback address: set [service] api_token first",
            param_hint="--host",
        )
    with reported(app):
        service = Service(app, host, port)
        code = service.run()
    raise typer.Exit(code)
