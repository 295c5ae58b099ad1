"""SAP-shaped tables for the in-test RFC stub (`stub_rfc`): PROJ, PRPS, PRHI, TKA01, COSP,
COSS with the field lengths and value images of the docs, and builders of their rows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.ledger.models import ActualLine, Project
from tests.connectors.sap import stub_rfc
from tests.connectors.sap.stub_rfc import System, Table

STUB = "tests.connectors.sap.stub_rfc"
AMOUNT = 17  # a CURR 15,2 image: digits, point, trailing sign
_WKG = [(f"WKG{p:03d}", AMOUNT, "P") for p in range(1, 17)]
_MEG = [(f"MEG{p:03d}", AMOUNT, "P") for p in range(1, 17)]
_CO_KEY = [
    ("LEDNR", 2, "C"), ("OBJNR", 22, "C"), ("GJAHR", 4, "N"), ("WRTTP", 2, "C"),
    ("VERSN", 3, "C"), ("KSTAR", 10, "C"), ("HRKFT", 4, "C"), ("VRGNG", 4, "C"),
]  # fmt: skip
LAYOUTS: dict[str, list[tuple[str, int, str]]] = {
    "PROJ": [
        ("PSPNR", 8, "N"), ("PSPID", 24, "C"), ("POST1", 40, "C"), ("OBJNR", 22, "C"),
        ("VBUKR", 4, "C"), ("PLFAZ", 8, "D"), ("PLSEZ", 8, "D"), ("PWHIE", 5, "C"),
        ("VERNA", 25, "C"),
    ],
    "PRPS": [
        ("PSPNR", 8, "N"), ("POSID", 24, "C"), ("POST1", 40, "C"), ("OBJNR", 22, "C"),
        ("PSPHI", 8, "N"), ("STUFE", 3, "N"), ("PBUKR", 4, "C"), ("PRCTR", 10, "C"),
    ],
    "PRHI": [("POSNR", 8, "N"), ("UP", 8, "N"), ("DOWN", 8, "N")],
    "TKA01": [("KOKRS", 4, "C"), ("WAERS", 5, "C"), ("BEZEI", 25, "C")],
    "TCURX": [("CURRKEY", 5, "C"), ("CURRDEC", 3, "b")],
    "T001": [("BUKRS", 4, "C"), ("WAERS", 5, "C")],
    "BPGE": [("LEDNR", 4, "C"), ("OBJNR", 22, "C"), ("TRGKZ", 1, "C"), ("WRTTP", 2, "C"),
             ("VERSN", 3, "C"), ("VORGA", 4, "C"), ("TWAER", 5, "C"), ("WTGES", AMOUNT, "P")],
    "BPJA": [("LEDNR", 4, "C"), ("OBJNR", 22, "C"), ("TRGKZ", 1, "C"), ("WRTTP", 2, "C"),
             ("GJAHR", 4, "N"), ("VERSN", 3, "C"), ("VORGA", 4, "C"), ("TWAER", 5, "C"),
             ("WTJHR", AMOUNT, "P")],
    "COSP": [*_CO_KEY, ("VBUND", 6, "C"), ("PARGB", 4, "C"), ("BEKNZ", 1, "C"),
             ("TWAER", 5, "C"), ("PERBL", 3, "N"), ("MEINH", 3, "C"), *_WKG, *_MEG],
    "COSS": [*_CO_KEY, ("PAROB", 22, "C"), ("USPOB", 22, "C"), ("BEKNZ", 1, "C"),
             ("TWAER", 5, "C"), ("PERBL", 3, "N"), ("MEINH", 3, "C"), *_WKG, *_MEG],
}  # fmt: skip


def image(amount: str) -> str:
    """`-12.50` as SAP prints it: `12.50-`."""
    return f"{amount[1:]}-" if amount.startswith("-") else amount


def new_system() -> System:
    """Two projects with two WBS elements each, controlling area 1000 in EUR."""
    system = System(tables={name: Table(layout) for name, layout in LAYOUTS.items()})
    t = system.tables
    t["TKA01"].rows.append({"KOKRS": "1000", "WAERS": "EUR", "BEZEI": "CO Europe"})
    t["T001"].rows.append({"BUKRS": "1000", "WAERS": "CHF"})
    t["TCURX"].rows += [{"CURRKEY": "JPY", "CURRDEC": "0"}, {"CURRKEY": "KWD", "CURRDEC": "3"}]
    for n, (pspid, name) in enumerate([("P-1000", "Plant | upgrade"), ("P-2000", "ERP rollout")]):
        pspnr = f"{n + 1:08d}"
        t["PROJ"].rows.append({
            "PSPNR": pspnr, "PSPID": pspid, "POST1": name, "OBJNR": f"PD{pspnr}",
            "VBUKR": "1000", "PLFAZ": "20260101", "PLSEZ": "00000000", "PWHIE": "EUR",
            "VERNA": "Ada Lovelace",
        })  # fmt: skip
        for k in (1, 2):
            wbs = f"{(n + 1) * 10 + k:08d}"
            t["PRPS"].rows.append({
                "PSPNR": wbs, "POSID": f"{pspid}.0{k}", "POST1": f"{name} part {k}",
                "OBJNR": f"PR{wbs}", "PSPHI": pspnr, "STUFE": "001", "PBUKR": "1000",
                "PRCTR": "",
            })  # fmt: skip
            t["PRHI"].rows.append({"POSNR": wbs, "UP": "00000000", "DOWN": "00000000"})
    return system


def total(
    system: System,
    table: str,
    objnr: str,
    kstar: str,
    year: int,
    values: Mapping[int, str],
    *,
    beknz: str = "S",
    wrttp: str = "04",
    hours: Mapping[int, str] | None = None,
    vrgng: str = "RKU1",
) -> None:
    """Add (or add to) a totals record: `values` period -> amount text such as '-12.50'."""
    key = {
        "LEDNR": "00", "OBJNR": objnr, "GJAHR": f"{year:04d}", "WRTTP": wrttp, "VERSN": "000",
        "KSTAR": kstar, "HRKFT": "", "VRGNG": vrgng, "BEKNZ": beknz, "TWAER": "EUR",
        "PERBL": "000",
    }  # fmt: skip
    rows = system.tables[table].rows
    row = next((r for r in rows if all(r.get(k) == v for k, v in key.items())), None)
    if row is None:
        row = {**key, "MEINH": "H" if hours else ""}
        rows.append(row)
    for p, amount in values.items():
        row[f"WKG{p:03d}"] = image(amount)
    for p, qty in (hours or {}).items():
        row[f"MEG{p:03d}"] = image(qty)


def use(system: System) -> Iterator[System]:
    """Make `system` the stub's for a test."""
    old = stub_rfc.SYSTEM
    stub_rfc.SYSTEM = system
    try:
        yield system
    finally:
        stub_rfc.SYSTEM = old


def settings(**extra: Any) -> dict[str, Any]:
    """The `[connectors.erp]` table that reads the stub."""
    return {
        "kind": "sap",
        "rfc_module": STUB,
        "rfc": {"ashost": "127.0.0.1", "sysnr": "00", "client": "100", "user": "PMO",
                "passwd": "secret"},
        "controlling_area": "1000",
        "backoff_seconds": 0,
        **extra,
    }  # fmt: skip


def app(engine: Engine, tmp_path: Path, **extra: Any) -> App:
    """An App whose one connector `erp` reads the stub (`extra` overrides its settings)."""
    return app_reading(engine, tmp_path, settings(**extra))


def app_reading(engine: Engine, tmp_path: Path, connector: dict[str, Any], **ledger: Any) -> App:
    """An App whose one connector `erp` has the `connector` table (base currency EUR)."""
    table = {
        "url": engine.url.render_as_string(hide_password=False),
        "base_currency": "EUR",
        **ledger,
    }
    config = {"ledger": table, "connectors": {"erp": connector}}
    return App(parse_config(config, {}, tmp_path), None, _engine=engine)


def ledger_lines(app: App) -> dict[tuple[str, str], tuple[int, Any]]:
    """Live `erp` actual lines per (project code, period): count and sum."""
    with app.reading() as s:
        rows = s.execute(
            select(Project.code, ActualLine.period, func.count(), func.sum(ActualLine.amount))
            .join(Project, Project.id == ActualLine.project_id)
            .where(ActualLine.source == "erp", ActualLine.deleted_at.is_(None))
            .group_by(Project.code, ActualLine.period)
        ).all()
    return {(code, period): (n, amount) for code, period, n, amount in rows}


def now() -> datetime:
    return datetime.now(UTC)
