"""The sandbox's fake SAP (connectors/sap/sandbox) for the connector's tests: the demo seed in
an in-process system reached through the fake pyrfc module, and what its CO line items add up
to, computed from COEP (the documents), not from the totals the connector reads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.seed import USER, SeedSummary, seed_demo
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from pmo_ledger.jobs.app import App
from tests.connectors.sap.sap_system import app_reading

FAKE = "pmo_ledger.connectors.sap.sandbox.fakerfc"
HOST = "sapfake.invalid"


def demo() -> Iterator[tuple[SapSystem, SeedSummary]]:
    """The seeded demo system, reachable at `HOST` while in use."""
    system = SapSystem()
    summary = seed_demo(system)
    with fakerfc.register(system, ashost=HOST):
        yield system, summary
    system.close()


def fake_settings(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "sap",
        "rfc_module": FAKE,
        "rfc": {"ashost": HOST, "sysnr": "00", "client": USER.client, "user": USER.user,
                "passwd": USER.password},
        "controlling_area": "1000",
        "backoff_seconds": 0,
        **extra,
    }  # fmt: skip


def fake_app(engine: Engine, tmp_path: Path, **extra: Any) -> App:
    """An App reading the fake with a calendar of months and SAP's four special periods."""
    return app_reading(engine, tmp_path, fake_settings(**extra), calendar={"special_periods": 4})


def expected(system: SapSystem) -> dict[tuple[str, str], Decimal]:
    """Actual costs (WRTTP 04) of WBS elements per (project code, 'YYYY-PP'), from COEP."""
    project_of = {p["PSPNR"]: p["PSPID"] for p in system.rows("PROJ")}
    wbs = {w["OBJNR"]: project_of[w["PSPHI"]] for w in system.rows("PRPS")}
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in system.rows("COEP"):
        if line["WRTTP"] == "04" and line["OBJNR"].startswith("PR"):
            period = f"{int(line['GJAHR']):04d}-{int(line['PERIO']):02d}"
            sums[(wbs[line["OBJNR"]], period)] += Decimal(line["WKGBTR"])
    return dict(sums)
