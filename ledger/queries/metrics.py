"""The ledger's figures that `GET /metrics` reports, read in one session per scrape: runs by
connector and status, stream rows by outcome, the last success per connector, open quarantine
entries and open variances."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Quarantine, SyncRun, SyncRunStream, Variance

#: The row counters of sync_run_stream (`rows_<outcome>`).
OUTCOMES = ("read", "written", "unchanged", "quarantined", "deleted")


class RunCount(NamedTuple):
    connector: str
    status: str
    runs: int


class StreamRows(NamedTuple):
    """Rows of one connector's stream summed over every run, per outcome (OUTCOMES)."""

    connector: str
    stream: str
    rows: dict[str, int]


@dataclass(frozen=True, slots=True)
class LedgerFigures:
    runs: list[RunCount]
    stream_rows: list[StreamRows]
    #: Start of the last succeeded run per connector.
    last_success: dict[str, datetime]
    #: Open quarantine entries per source.
    open_quarantine: dict[str, int]
    #: Open and acknowledged variances per severity.
    open_variances: dict[str, int]


def ledger_figures(session: Session) -> LedgerFigures:
    """The figures of one scrape."""
    runs = session.execute(
        select(SyncRun.connector, SyncRun.status, func.count()).group_by(
            SyncRun.connector, SyncRun.status
        )
    ).all()
    srs = SyncRunStream
    rows = session.execute(
        select(
            SyncRun.connector,
            srs.stream,
            *(func.coalesce(func.sum(getattr(srs, f"rows_{o}")), 0) for o in OUTCOMES),
        )
        .join(SyncRun, SyncRun.id == srs.run_id)
        .group_by(SyncRun.connector, srs.stream)
    ).all()
    last_ok = session.execute(
        select(SyncRun.connector, func.max(SyncRun.started_at))
        .where(SyncRun.status == "succeeded")
        .group_by(SyncRun.connector)
    ).all()
    quarantine = session.execute(
        select(Quarantine.source, func.count())
        .where(Quarantine.status == "open")
        .group_by(Quarantine.source)
    ).all()
    variances = session.execute(
        select(Variance.severity, func.count())
        .where(Variance.status != "resolved")
        .group_by(Variance.severity)
    ).all()
    return LedgerFigures(
        runs=[RunCount(connector, status, int(n)) for connector, status, n in runs],
        stream_rows=[
            StreamRows(connector, stream, dict(zip(OUTCOMES, map(int, counts), strict=True)))
            for connector, stream, *counts in rows
        ],
        last_success={c: at for c, at in last_ok if at is not None},
        open_quarantine={source: int(n) for source, n in quarantine},
        open_variances={severity: int(n) for severity, n in variances},
    )
