"""The demo org served for a person or a test: what `SalesforceConnector.sandbox()` returns
(`pmo-ledger sandbox` prints its lines and settings, the contract test reads through it)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pmo_ledger.connectors.base import Sandbox, SandboxOptions
from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg
from pmo_ledger.connectors.salesforce.sandbox.seed import seed_demo
from pmo_ledger.connectors.salesforce.sandbox.server import SandboxServer

#: Most records per query page when the options do not say (the REST API's own maximum).
PAGE_SIZE = 2000


@contextmanager
def running(options: SandboxOptions) -> Iterator[Sandbox]:
    """The demo PSA org (with the `dirty` records when asked) on HTTPS in a background
    thread; with `live`, its clock starts at the demo's end (2025-07-01) or now, whichever is
    later, so a connector's wall-clock windows (getDeleted) fall inside it."""
    org = FakeOrg()
    seed = seed_demo(org, dirty=options.dirty)
    if options.live:
        org.set_now(max(org.now(), datetime.now(UTC).replace(microsecond=0)))
    with SandboxServer(
        org,
        host=options.host,
        port=options.port,
        page_size=options.page_size or PAGE_SIZE,
        cert_dir=options.cert_dir,
    ) as server:
        server.delay = options.delay
        user, app = server.user, server.app
        yield Sandbox(
            settings={
                "login_url": server.login_url,
                "username": user.username,
                "password": user.password,
                "security_token": user.security_token,
                "ca_bundle": str(server.ca_file),
            },
            table="psa",
            lines=(
                f"Salesforce sandbox: {sum(seed.counts.values())} demo records, listening on "
                f"{server.login_url}",
                f"  username        {user.username}",
                f"  password        {user.password}",
                f"  security token  {user.security_token}",
                f"  consumer key    {app.consumer_key}",
                f"  consumer secret {app.consumer_secret}",
                f"  CA file         {server.ca_file}",
            ),
        )
