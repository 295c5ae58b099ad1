"""The Oracle stand-in served for a person or a test: what `OracleConnector.sandbox()`
returns (`pmo-ledger sandbox --kind oracle` prints its lines and settings).

An EBS-shaped Projects schema (`ebs.py`) in an SQLite file in a temporary directory, attached
as the schema APPS, seeded with the demo's projects (`seed.py`: the PSA sample's world, as
the Workfront and SAP sandboxes mirror it). The printed settings read it with the EBS
flavor exactly as they would read EBS, the URL aside. There is no Oracle database here: the
statements are the ones a real EBS gets, rendered for SQLite.
"""

from __future__ import annotations

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


@contextmanager
def running(options: SandboxOptions, world: PsaWorld = DEMO_PSA) -> Iterator[Sandbox]:
    """The demo EBS in an SQLite file (removed at the end)."""
    directory = Path(tempfile.mkdtemp(prefix="pmo-oracle-sandbox-"))
    database = directory / "ebs.db"
    url = f"sqlite:///{database}"
    ebs = create_seeded(url, world=world, dirty=options.dirty)
    try:
        projects = len(ebs.projects)
        settings = ebs_settings(url)
        if options.page_size is not None:
            settings["page_size"] = options.page_size
        yield Sandbox(
            settings=settings,
            table="ebs",
            lines=(
                f"Oracle EBS sandbox: an EBS-shaped Projects schema ({projects} projects, one "
                f"a template) in SQLite, attached as {SCHEMA}",
                f"  database      {database}",
                f"  time zone     {DB_TIMEZONE} (LAST_UPDATE_DATE has none)",
                "  a real EBS    url = \"oracle+oracledb://apps_ro@host:1521/?service_name=EBS\""
                ", password = \"${EBS_PASSWORD}\"",
            ),
        )
    finally:
        ebs.engine.dispose()
        shutil.rmtree(directory, ignore_errors=True)
