"""The Oracle stand-ins served for a person or a test: what `OracleConnector.sandbox()`
returns (`pmo-ledger sandbox --kind oracle` prints its lines and settings).

- EBS: an EBS-shaped Projects schema (`ebs.py`) in an SQLite file in a temporary directory,
  attached as the schema APPS, seeded with the demo's projects (`seed.py`: the PSA sample's
  world, as the Workfront and SAP sandboxes mirror it). The settings (`[connectors.ebs]`)
  read it with the EBS flavor exactly as they would read EBS, the URL aside. There is no
  Oracle database here: the statements are the ones a real EBS gets, rendered for SQLite.
- Fusion: the fake Fusion Cloud pod (`fusion_server.py`, the same world) on HTTPS, on the
  port asked for; the lines print its `[connectors.fusion]` table.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from pmo_ledger.connectors.base import Sandbox, SandboxOptions
from pmo_ledger.connectors.oracle.ebs.source import make_source_engine
from pmo_ledger.connectors.oracle.sandbox.ebs import DB_TIMEZONE, Ebs
from pmo_ledger.connectors.oracle.sandbox.seed import seed_demo
from pmo_ledger.connectors.oracle.settings import OracleSettings
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import DEMO_PSA, PsaWorld

SCHEMA = "APPS"
RATE_TYPE = "Corporate"


def ebs_settings(url: str, **more: Any) -> dict[str, Any]:
    """The `[connectors.<name>]` keys that read an EBS-shaped copy at `url`."""
    return {
        "flavor": "ebs",
        "url": url,
        "schema": SCHEMA,
        "db_timezone": DB_TIMEZONE,
        "fx_rate_type": RATE_TYPE,
        "base_currency": "USD",
        **more,
    }


def create_seeded(url: str, *, world: PsaWorld = DEMO_PSA, dirty: bool = False) -> Ebs:
    """The demo EBS created and seeded at `url` (SQLite file or PostgreSQL database)."""
    settings = OracleSettings.model_validate(ebs_settings(url))
    engine = make_source_engine(settings, timedelta(seconds=10), timedelta(seconds=120))
    Ebs.create(engine, SCHEMA)
    return seed_demo(engine, world, dirty=dirty).ebs


def fusion_table(settings: dict[str, Any]) -> list[str]:
    """The `[connectors.fusion]` TOML tables that read the Fusion pod with `settings`."""
    values = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    return ["[connectors.fusion]", 'kind = "oracle"', 'flavor = "fusion"',
            "[connectors.fusion.fusion]", *values]  # fmt: skip


@contextmanager
def running(options: SandboxOptions, world: PsaWorld = DEMO_PSA) -> Iterator[Sandbox]:
    """The demo EBS in an SQLite file (removed at the end) and the Fusion pod on HTTPS."""
    from pmo_ledger.connectors.oracle.sandbox.fusion_data import FusionData
    from pmo_ledger.connectors.oracle.sandbox.fusion_server import FusionSandbox

    directory = Path(tempfile.mkdtemp(prefix="pmo-oracle-sandbox-"))
    database = directory / "ebs.db"
    url = f"sqlite:///{database}"
    ebs = create_seeded(url, world=world, dirty=options.dirty)
    try:
        projects = len(ebs.projects)
        settings = ebs_settings(url)
        if options.page_size is not None:
            settings["page_size"] = options.page_size
        pod = FusionSandbox(FusionData(world, dirty=options.dirty), host=options.host,
                            port=options.port, cert_dir=options.cert_dir)  # fmt: skip
        with pod:
            yield Sandbox(
                settings=settings,
                table="ebs",
                lines=(
                    f"Oracle EBS sandbox: an EBS-shaped Projects schema ({projects} projects, "
                    f"one a template) in SQLite, attached as {SCHEMA}",
                    f"  database      {database}",
                    f"  time zone     {DB_TIMEZONE} (LAST_UPDATE_DATE has none)",
                    '  a real EBS    url = "oracle+oracledb://apps_ro@host:1521/'
                    '?service_name=EBS", password = "${EBS_PASSWORD}"',
                    f"Oracle Fusion Cloud sandbox: a fake pod on {pod.url}",
                    f"  CA file       {pod.ca_file}",
                    "  to read it, paste also:",
                    *(f"    {line}" for line in fusion_table(pod.settings())),
                ),
            )
    finally:
        ebs.engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)
