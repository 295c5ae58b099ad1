"""Syncs of the fake SAP system at a large size, over RFC (the fake pyrfc module) and over
OData (the sandbox's S/4HANA services on HTTPS), each into a fresh ledger (SQLite file by
default, or PostgreSQL with --pg): a full read, then an incremental one (each run re-reads the
open periods: `open_periods_back` = 2, so the current period and the two before it).

    .venv/bin/python bench/sap.py [--odata-wbs 200] [--wbs 1500] [--cost-elements 4] [--pg URL]

OData is read first, with the sandbox's demo system grown by `--odata-wbs` WBS elements, then
RFC with it grown to `--wbs` (the fake OData server builds the journal items from every line
item for each page it serves, so its time grows with the square of the size: at RFC's size it
would measure the fake). The elements go under PRJ-0001 and PRJ-0002 (EUR),
each with one CO line item (COBK/COEP) per cost element and month of this year up to the
current month, and the CO totals (COSP) that sum them: the actuals stream lists one line per
element, cost element and period over RFC (CO totals) and over OData (the journal items,
summed per period). Prints per transport and run the records read, the seconds, records/s
and the calls (RFC function calls, HTTP requests) per 1,000 records; the last line is
`sap_records_per_second=X` (the slower full read of the two transports).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from datetime import time as clock
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import ensure_database, fresh

from pmo_ledger.connectors.base import SandboxOptions
from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.postings import KOKRS, co_total_row
from pmo_ledger.connectors.sap.sandbox.run import RFC_HOST, RFC_MODULE, running
from pmo_ledger.connectors.sap.sandbox.seed import CLIENT, USER
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine

ELEMENTS = ["0000474000", "0000476000", "0000417000", "0000430000", "0000400000", "0000943000"]


def grow(system: SapSystem, wbs: int, elements: int, today: date) -> int:
    """Add `wbs` WBS elements with their line items and totals; the number of line items."""
    projects = {p["PSPID"]: p for p in system.rows("PROJ")}
    roots = {
        w["PSPHI"]: w["PSPNR"] for w in system.rows("PRPS") if int(w["STUFE"] or 0) == 1
    }
    first = max(int(w["PSPNR"]) for w in system.rows("PRPS")) + 1
    belnr = max((int(r["BELNR"]) for r in system.rows("COBK")), default=100_000_000) + 1
    year, months = today.year, range(1, today.month + 1)
    prps, prhi, cobk, coep, cosp = [], [], [], [], []
    for n in range(wbs):
        project = projects["PRJ-0001" if n % 2 == 0 else "PRJ-0002"]
        pspnr = f"{first + n:08d}"
        posid = f"{project['PSPID']}.9.{first + n}"
        objnr = f"PR{pspnr}"
        prps.append({"PSPNR": pspnr, "POSID": posid, "POST1": f"Bench element {n + 1}",
                     "OBJNR": objnr, "PSPHI": project["PSPNR"], "PBUKR": "1000",
                     "PKOKR": KOKRS, "PRCTR": "PC1000", "PRART": "01", "STUFE": 2,
                     "ERDAT": date(year, 1, 1), "AEDAT": date(year, 1, 1)})  # fmt: skip
        prhi.append({"POSNR": pspnr, "PSPHI": project["PSPNR"], "UP": roots[project["PSPNR"]]})
        for kstar in ELEMENTS[:elements]:
            per_month: dict[int, Decimal] = {}
            for month in months:
                amount = Decimal(100 + (n * 37 + month * 11 + int(kstar) % 97) % 900) + Decimal(
                    "0.25"
                )
                per_month[month] = amount
                day = date(year, month, 15)
                doc = f"{belnr:010d}"
                belnr += 1
                cobk.append({"KOKRS": KOKRS, "BELNR": doc, "GJAHR": year, "VERSN": "000",
                             "VRGNG": "COIN", "BLDAT": day, "BUDAT": day, "PERAB": month,
                             "PERBI": month, "CPUDT": day, "CPUTM": clock(9, 0),
                             "USNAM": "BENCH"})  # fmt: skip
                coep.append({"KOKRS": KOKRS, "BELNR": doc, "BUZEI": 1, "PERIO": month,
                             "WTGBTR": amount, "WOGBTR": amount, "WKGBTR": amount,
                             "LEDNR": "00", "OBJNR": objnr, "GJAHR": year, "WRTTP": "04",
                             "VERSN": "000", "KSTAR": kstar, "VRGNG": "COIN", "BEKNZ": "S",
                             "BELTP": 1, "TWAER": "EUR", "OWAER": "EUR", "BUKRS": "1000",
                             "GKONT": "0000160000"})  # fmt: skip
            cosp.append(co_total_row(objnr=objnr, wrttp="04", versn="000", kstar=kstar,
                                     vrgng="COIN", twaer="EUR", transaction=per_month,
                                     co_area=per_month, year=year))  # fmt: skip
    for table, rows in (("PRPS", prps), ("PRHI", prhi), ("COBK", cobk), ("COEP", coep),
                        ("COSP", cosp)):  # fmt: skip
        system.insert_many(table, rows)
    return len(coep)


def rfc_settings() -> dict[str, Any]:
    return {
        "kind": "sap", "transport": "rfc", "rfc_module": RFC_MODULE, "controlling_area": KOKRS,
        "rfc": {"ashost": RFC_HOST, "sysnr": "00", "client": CLIENT, "user": USER.user,
                "passwd": USER.password, "lang": "EN"},
    }  # fmt: skip


def ledgers(tmp: str, pg: str | None) -> Iterator[tuple[Any, str]]:
    """A fresh ledger per transport: (engine, url)."""
    for n in (1, 2):
        if pg:
            ensure_database(pg)
            yield fresh(pg), pg
        else:
            url = f"sqlite:///{tmp}/ledger{n}.db"
            engine = make_engine(url)
            migrate.upgrade(engine)
            yield engine, url


def timed(app: App, system: SapSystem, label: str) -> tuple[int, float, int]:
    """(actual records read, seconds, calls) of one sync of `sap`."""
    calls = system.rfc_calls + system.http_calls
    start = time.perf_counter()
    result = run_sync(app, "sap")
    seconds = time.perf_counter() - start
    if result.status != "succeeded":
        raise SystemExit(f"{label}: sync {result.status}: {result.message}")
    read = sum(s.stats.read for s in result.streams)
    return read, seconds, system.rfc_calls + system.http_calls - calls


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--wbs", type=int, default=1500)
    parser.add_argument("--odata-wbs", type=int, default=200)
    parser.add_argument("--cost-elements", type=int, default=4, choices=range(1, 7))
    parser.add_argument("--pg", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    today = datetime.now(UTC).date()
    slowest = None
    with tempfile.TemporaryDirectory() as tmp, running(
        SandboxOptions(page_size=1000), world=None
    ) as sandbox:
        # The sandbox's one system (the RFC logon's and the OData server's).
        system = fakerfc._registry[fakerfc._ashost_key(RFC_HOST, "00")]
        odata = {"kind": "sap", **sandbox.settings}
        grown = 0
        for (engine, url), (transport, table, size) in zip(
            ledgers(tmp, args.pg),
            (("odata", odata, args.odata_wbs), ("rfc", rfc_settings(), args.wbs)),
            strict=True,
        ):
            seeded = time.perf_counter()
            items = grow(system, size - grown, args.cost_elements, today)
            grown = size
            print(f"{transport}: grew the sandbox to {size} bench WBS elements (+{items} CO line "
                  f"items) in {time.perf_counter() - seeded:.1f} s")  # fmt: skip
            config = {"ledger": {"url": url, "base_currency": "EUR"}, "connectors": {"sap": table}}
            app = App(parse_config(config, {}, Path(tmp)), None, _engine=engine)
            for label in ("full", "incremental"):
                read, seconds, made = timed(app, system, f"{transport} {label}")
                print(
                    f"{transport} {label}: {read} records in {seconds:.1f} s "
                    f"({read / seconds:.0f}/s), {made} calls "
                    f"({1000 * made / max(read, 1):.1f} per 1,000 records)"
                )
                if label == "full":
                    rate = read / seconds
                    slowest = rate if slowest is None else min(slowest, rate)
            engine.dispose()
    print(f"sap_records_per_second={slowest or 0:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
