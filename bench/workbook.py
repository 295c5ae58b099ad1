"""Status workbook benchmark: `pmo-ledger report --format xlsx` over 2,000 projects x 24 periods.

    .venv/bin/python bench/workbook.py [--n 200000] [--pg URL | --sqlite-db FILE] [--reuse]
        [--out FILE.xlsx]

Loads a generated ledger the way bench/reconcile.py does (two sample sources, a PSA that is
the authority for projects, labor, hours and budgets and an ERP linked to it by code, N actual
lines between them, 2,000 projects, 24 months of budgets, 500 resources with capacity and
allocations, tasks and dependencies, progress; the months before the current one closed), runs
one reconcile (so the Variances sheet has its findings), then writes the workbook in a child
process, which is what is measured: wall time from reading the ledger to the renamed file (and
its CPU time, printed beside: on a shared machine the wall time includes waiting for a core),
and that process's peak resident memory (`ru_maxrss`). Targets (issue 23): under 60 s and 500 MB.
The last line is `workbook_seconds=X peak_rss_mb=Y`.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchdb import ensure_database, settle
from reconcile import config, open_ledger
from sqlalchemy import func, select

from pmo_ledger.jobs.logconfig import configure_logging
from pmo_ledger.ledger.models import Variance
from pmo_ledger.ledger.reconcile import reconcile


def prepare(url: str, n: int, tmp: Path, reuse: bool) -> None:
    app, reused = open_ledger(url, n, tmp, reuse)
    engine = app.engine
    if not reused:
        settle(engine)
    with app.reading() as s:
        variances = s.scalar(select(func.count()).select_from(Variance)) or 0
    if not variances:
        start = time.perf_counter()
        with app.transaction() as s:
            result = reconcile(s, app.settings, app.config.reconcile, now=datetime.now(UTC))
        print(f"reconciled: {result.total:,} findings in {time.perf_counter() - start:.1f} s")
    engine.dispose()


def write(url: str, n: int, out: Path) -> None:
    """The child: write the workbook, print its figures as JSON."""
    from pmo_ledger.jobs.workbook.run import write_status_workbook

    with tempfile.TemporaryDirectory() as tmp:
        app = config(url, n, Path(tmp))
        start, cpu = time.perf_counter(), time.process_time()
        report = write_status_workbook(app, out, now=datetime.now(UTC))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak, "projects": len(report.projects),
                      "periods": len(report.periods), "findings": len(report.findings),
                      "bytes": out.stat().st_size}))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--pg", help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--sqlite-db", type=Path, help="the SQLite file (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="keep a ledger of N lines loaded "
                        "by an earlier run")  # fmt: skip
    parser.add_argument("--out", type=Path, help="where the workbook goes (default: temporary)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging("json", "WARNING")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if args.child:
        write(args.url, args.n, args.out)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        if args.pg:
            ensure_database(args.pg)
            url = args.pg
        else:
            url = f"sqlite:///{args.sqlite_db or Path(tmp) / 'bench.db'}"
        prepare(url, args.n, Path(tmp), args.reuse)
        out = args.out or Path(tmp) / "status.xlsx"
        child = subprocess.run(  # noqa: S603 (this interpreter and this script)
            [sys.executable, __file__, "--child", "--url", url, "--n", str(args.n),
             "--out", str(out)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if child.returncode != 0:
            print(child.stdout + child.stderr)
            return 1
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"{url.split(':')[0]}: {figures['projects']:,} projects x {figures['periods']} periods, "
          f"{figures['findings']:,} findings, {figures['bytes'] / 1e6:.1f} MB written; "
          f"CPU {figures['cpu_seconds']:.1f} s")  # fmt: skip
    print(f"workbook_seconds={figures['seconds']:.2f} peak_rss_mb={figures['peak_rss_mb']:.0f}")
    return 0 if figures["seconds"] < 60 and figures["peak_rss_mb"] < 500 else 1


if __name__ == "__main__":
    sys.exit(main())
