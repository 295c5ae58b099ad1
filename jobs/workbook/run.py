"""Read the ledger and write the status workbook: what `pmo-ledger report --format xlsx` and
bench/workbook.py call. Everything is read in one read-only session first; the file is written
next to its destination under a temporary name and renamed over it, so a failure leaves no
half-written workbook (and no file at all when reading fails)."""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime
from pathlib import Path

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.workbook.book import write_workbook
from pmo_ledger.ledger.queries.status import StatusReport, project_schedules, status_report


def reproduce_command(report: StatusReport) -> str:
    """The command that writes this workbook again, from the ledger's history."""
    known = report.as_known_at.isoformat().replace("+00:00", "Z")
    scope = "".join(
        f" --{k} {v}" for k, v in (("portfolio", report.portfolio), ("program", report.program))
        if v
    )  # fmt: skip
    return (
        f"pmo-ledger report --format xlsx --out FILE --as-known-at {known} "
        f"--status-date {report.status_date.isoformat()}{scope}"
    )


def write_status_workbook(
    app: App,
    out: Path,
    *,
    now: datetime,
    status_date: date | None = None,
    as_known_at: datetime | None = None,
    portfolio: str | None = None,
    program: str | None = None,
) -> StatusReport:
    """Write the workbook to `out`; the figures it shows. Raises LookupError (unknown
    portfolio or program, no fiscal period for the date), ValueError (an as-known-at in the
    future) and OSError (the folder of `out` is missing or not writable) before anything is
    written."""
    folder = out.parent if str(out.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(2, "no such folder", str(folder))
    config = app.config
    with app.reading() as session:
        report = status_report(
            session,
            app.settings,
            config.reconcile,
            now=now,
            status_date=status_date,
            as_known_at=as_known_at,
            portfolio=portfolio,
            program=program,
            sources=list(config.connectors),
        )
        schedules, notes = project_schedules(
            session,
            report.projects,
            report.status_date,
            config.planning,
            authority=app.settings.authority.projects,
            as_known_at=as_known_at,
        )
    report.notes.extend(notes)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".xlsx", dir=folder)
    os.close(fd)
    tmp = Path(name)
    try:
        write_workbook(
            tmp,
            report,
            schedules,
            currency=app.settings.base_currency,
            rag_rules=config.report.rag,
            sources=[(n, c.kind) for n, c in config.connectors.items()],
            command=reproduce_command(report),
        )
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return report
