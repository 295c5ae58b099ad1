"""The fake Fusion pod served for a person or a test: what the Oracle connector's `sandbox()`
runs for `flavor = "fusion"` (`pmo-ledger sandbox --kind oracle`, beside the EBS schema).

    with running_fusion(SandboxOptions()) as sandbox:
        sandbox.settings   # {"flavor": "fusion", "fusion": {...}}: [connectors.<name>]
        sandbox.lines      # where it listens, its user, its OAuth client, its CA file

The pod is `fusion_server.FusionSandbox` over `fusion_data.FusionData` (the sample world of
config/demo.toml); `SandboxOptions.page_size` is the pod's cap on `limit` (499 by default),
`dirty` adds the rows a connector must reject, `live` starts the pod's clock at the wall
clock (its stamps fall inside a person's lookback windows).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pmo_ledger.connectors.base import Sandbox, SandboxOptions
from pmo_ledger.connectors.oracle.sandbox.fusion_data import DEMO_PSA, EPOCH, FusionData, PsaWorld
from pmo_ledger.connectors.oracle.sandbox.fusion_server import (
    OAUTH_CLIENT,
    USER,
    FusionSandbox,
)


@contextmanager
def running_fusion(options: SandboxOptions, world: PsaWorld | None = DEMO_PSA) -> Iterator[Sandbox]:
    """The fake pod on HTTPS in a background thread until the block ends."""
    start = max(EPOCH, datetime.now(UTC)) if options.live else EPOCH
    data = FusionData(world, dirty=options.dirty, start=start)
    with FusionSandbox(
        data,
        host=options.host,
        port=options.port,
        cert_dir=options.cert_dir,
        cap=options.page_size or 499,
        retry_after=1,
    ) as pod:
        valid = sum(1 for _ in data.valid_costs())
        yield Sandbox(
            settings={"flavor": "fusion", "fusion": pod.settings()},
            table="oracle",
            lines=(
                f"Fusion sandbox: {len(data.projects)} projects, {valid} project costs, "
                f"{len(data.budgets)} budget versions on {pod.url}",
                f"  REST          {pod.url}/fscmRestApi/resources/11.13.18.05/projects",
                f"  user          {USER[0]}",
                f"  password      {USER[1]}",
                f"  OAuth         {pod.token_url} client {OAUTH_CLIENT[0]} "
                f"secret {OAUTH_CLIENT[1]}",
                f"  CA file       {pod.ca_file}",
            ),
        )
