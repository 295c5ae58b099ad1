"""`pmo-ledger sandbox`: a fake Salesforce org with the demo PSA data, on HTTPS, in the
foreground, to point a `kind = "salesforce"` connector at.

It needs no configuration and no database: it seeds the demo org, starts the server, prints
the login URL, the credentials, the CA file and a `[connectors.psa]` table to paste, and
serves until Ctrl-C or SIGTERM. The org clock starts at the demo's end (2025-07-01) or now,
whichever is later, so a connector's wall-clock windows (getDeleted) fall inside it.
"""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from pmo_ledger.jobs.cli.common import out

if TYPE_CHECKING:
    from pmo_ledger.connectors.salesforce.sandbox import SandboxServer


def sandbox(
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
    """Serve a fake Salesforce org (demo PSA data) on HTTPS until interrupted."""
    # Imported here: every other command starts without the sandbox's TLS and JWT stack.
    from pmo_ledger.connectors.salesforce.sandbox import FakeOrg, SandboxServer, seed_demo

    org = FakeOrg()
    seed = seed_demo(org, dirty=dirty)
    org.set_now(max(org.now(), datetime.now(UTC).replace(microsecond=0)))
    server = SandboxServer(org, host=host, port=port, page_size=page_size, cert_dir=cert_dir)
    server.bind()  # the port is known before anything is printed
    rows = sum(seed.counts.values())
    out(f"Salesforce sandbox: {rows} demo records, listening on {server.login_url}")
    out(f"  username        {server.user.username}")
    out(f"  password        {server.user.password}")
    out(f"  security token  {server.user.security_token}")
    out(f"  consumer key    {server.app.consumer_key}")
    out(f"  consumer secret {server.app.consumer_secret}")
    out(f"  CA file         {server.ca_file}")
    out("")
    out("Configuration to paste (pmo-ledger.toml):")
    out("")
    for line in toml_snippet(server):
        out(line)
    out("")
    out("Serving until Ctrl-C.")
    _serve(server)


def toml_snippet(server: SandboxServer) -> list[str]:
    """The `[connectors.psa]` table that points a connector at this sandbox."""
    values = {
        "kind": "salesforce",
        "login_url": server.login_url,
        "username": server.user.username,
        "password": server.user.password,
        "security_token": server.user.security_token,
        "ca_bundle": str(server.ca_file),
    }
    # A JSON string is a valid TOML basic string (same escapes), paths with \ included.
    return ["[connectors.psa]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]


def _serve(server: SandboxServer) -> None:
    """Serve in this thread; SIGTERM stops it as Ctrl-C does."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out("Stopped.")
    finally:
        signal.signal(signal.SIGTERM, previous)
