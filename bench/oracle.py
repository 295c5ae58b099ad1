"""Oracle EBS flavor benchmark: a full and an incremental sync of the EBS-shaped schema at
~200,000 expenditure items, with the source in SQLite and in PostgreSQL.

    .venv/bin/python bench/oracle.py [--items 200000] [--pg URL] [--skip-pg]

For each source database: seeds the demo EBS (`connectors/oracle/sandbox/seed.py`) on a
world of `--items` cost lines and 50 projects (not timed), then times
- read: the connector's full read of `actuals` alone (statement, streaming, records, pages;
  no ledger), records/s;
- full: `run_sync` of every stream into an empty ledger of the same kind (SQLite file, or the
  PostgreSQL database's public schema beside the source's APPS), records/s over every stream;
- incremental: a mutation round (`sandbox/mutate.py`: a new item, a re-costing, a reversal,
  a re-baseline, a renamed project, a rate), then `run_sync` again: seconds and records read.

The last line is machine-readable: `oracle_ebs_full_records_per_s_sqlite=X
oracle_ebs_full_records_per_s_postgresql=Y oracle_ebs_incremental_s_sqlite=A
oracle_ebs_incremental_s_postgresql=B`. There is no Oracle database here: these are the
connector's and the ledger's costs on the same statements, not Oracle's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import ensure_database, fresh
from sqlalchemy import text

from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.oracle import OracleConnector, OracleSettings
from pmo_ledger.connectors.oracle.sandbox.mutate import mutation_round
from pmo_ledger.connectors.oracle.sandbox.run import SCHEMA, create_seeded, ebs_settings
from pmo_ledger.connectors.oracle.sandbox.seed import max_update
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import PsaWorld
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.db import make_engine


def read_only(url: str) -> tuple[int, float]:
    """Records of a full read of actuals and the seconds it took (no ledger)."""
    connector = OracleConnector(OracleSettings.model_validate(ebs_settings(url)),
                                ConnectorContext("bench"))  # fmt: skip
    start = time.perf_counter()
    records = sum(len(p.records) for p in connector.extract("actuals", ReadRequest()))
    seconds = time.perf_counter() - start
    connector.close()
    return records, seconds


def run(kind: str, source_url: str, ledger_url: str, items: int, tmp: Path) -> dict[str, Any]:
    world = PsaWorld(seed=42, projects=50, actuals=items)
    start = time.perf_counter()
    ebs = create_seeded(source_url, world=world)
    print(f"[{kind}] seeded {items:,} world lines in {time.perf_counter() - start:.1f} s")
    records, seconds = read_only(source_url)
    print(f"[{kind}] read: {records:,} cost lines in {seconds:.2f} s "
          f"= {records / seconds:,.0f} records/s")  # fmt: skip
    fresh(ledger_url).dispose()
    connector = {"kind": "oracle", **ebs_settings(source_url)}
    app = App(parse_config({"ledger": {"url": ledger_url, "base_currency": "USD"},
                            "connectors": {"ebs": connector}}, {}, tmp), None)  # fmt: skip
    start = time.perf_counter()
    full = run_sync(app, "ebs")
    full_s = time.perf_counter() - start
    assert full.status == "succeeded", full.message
    read = sum(s.listed for s in full.streams)
    print(f"[{kind}] full sync: {read:,} records in {full_s:.1f} s = {read / full_s:,.0f} "
          "records/s")  # fmt: skip
    mutation_round(ebs, max_update(ebs.engine) + timedelta(days=1))
    start = time.perf_counter()
    again = run_sync(app, "ebs")
    inc_s = time.perf_counter() - start
    assert again.status == "succeeded", again.message
    inc_read = sum(s.listed for s in again.streams)
    print(f"[{kind}] incremental sync after a mutation round: {inc_read:,} records in "
          f"{inc_s:.2f} s")  # fmt: skip
    ebs.engine.dispose()
    app.engine.dispose()
    return {"full": read / full_s, "incremental": inc_s}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/pmo_bench_oracle")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    figures: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        figures["sqlite"] = run("sqlite", f"sqlite:///{tmp}/ebs.db",
                                f"sqlite:///{tmp}/ledger.db", args.items, Path(tmp))  # fmt: skip
        if not args.skip_pg:
            ensure_database(args.pg)
            engine = make_engine(args.pg)
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
            engine.dispose()
            figures["postgresql"] = run("postgresql", args.pg, args.pg, args.items, Path(tmp))
    print(" ".join(
        [f"oracle_ebs_full_records_per_s_{k}={v['full']:.0f}" for k, v in figures.items()]
        + [f"oracle_ebs_incremental_s_{k}={v['incremental']:.2f}" for k, v in figures.items()]
    ))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
