"""Percent complete history (rule 12): a progress_snapshot row is appended whenever it changes.

A snapshot is "a change" when its percent differs from the one in force on its status date
for the same project, task (NULL for the project itself) and source: the latest snapshot
dated on or before it. Comparing with the one in force (not simply the newest) keeps a
replay of historical snapshots from appending anything.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, and_, func, insert, select

from pmo_ledger.ledger import staging
from pmo_ledger.ledger.models import ProgressSnapshot, table_of
from pmo_ledger.ledger.records import ProgressRecord
from pmo_ledger.ledger.resolve import resolve_keys, resolve_projects
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.keyed_rows import percent_problem, q
from pmo_ledger.ledger.write.record_writer import RecordWriter, Row

_META = MetaData()
#: (project, task) pairs whose snapshot history a batch needs.
stage_progress_key = Table(
    "stage_progress_key",
    _META,
    Column("project_id", Integer),
    Column("task_id", Integer),
    prefixes=["TEMPORARY"],
)
_ps: Table = table_of(ProgressSnapshot)
#: Orders of rows appended in this batch sort after every stored id of the same day, and the
#: lookup probe after those.
_NEW = 1 << 62
_PROBE = 1 << 63


@dataclass(frozen=True, slots=True)
class Progress:
    """One percent complete (0-100) of a project (task_id None) or a task at a date."""

    project_id: int
    task_id: int | None
    status_date: date
    percent: Decimal


def append_progress(ctx: WriteContext, items: Iterable[Progress]) -> int:
    """Append a snapshot of ctx.source for every item that changes the percent in force on
    its date. Returns the number of rows appended."""
    wanted: dict[tuple[int, int | None, date], Decimal] = {}
    for item in items:  # the last one given wins for the same key and day
        percent = q(item.percent)
        assert percent is not None
        wanted[(item.project_id, item.task_id, item.status_date)] = percent
    if not wanted:
        return 0
    pairs = {(p, t) for p, t, _d in wanted}
    staging.fill(
        ctx.session, stage_progress_key, [{"project_id": p, "task_id": t} for p, t in pairs]
    )
    st = stage_progress_key
    rows = ctx.session.execute(
        select(_ps.c.project_id, _ps.c.task_id, _ps.c.status_date, _ps.c.id, _ps.c.percent)
        .join(
            st,
            and_(
                _ps.c.project_id == st.c.project_id,
                func.coalesce(_ps.c.task_id, 0) == func.coalesce(st.c.task_id, 0),
            ),
        )
        .where(_ps.c.source == ctx.source)
    )
    # Per pair, (status_date, order) -> percent, sorted: the one in force on D is the last
    # entry at or before (D, +inf). New rows sort after stored ones of the same day.
    history: dict[tuple[int, int | None], list[tuple[date, int, Decimal]]] = defaultdict(list)
    for project_id, task_id, status_date, id_, percent in rows:
        history[(project_id, task_id)].append((status_date, id_, percent))
    for series in history.values():
        series.sort()
    new_rows: list[dict[str, object]] = []
    for (project_id, task_id, status_date), percent in sorted(
        wanted.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2])
    ):
        series = history[(project_id, task_id)]
        i = bisect.bisect_right(series, (status_date, _PROBE, percent))
        in_force = series[i - 1][2] if i > 0 else None
        if in_force == percent:
            continue
        series.insert(i, (status_date, _NEW + len(new_rows), percent))
        new_rows.append(
            {
                "project_id": project_id,
                "task_id": task_id,
                "status_date": status_date,
                "percent": percent,
                "source": ctx.source,
                "recorded_at": ctx.recorded_at,
            }
        )
    if new_rows:
        ctx.session.execute(insert(_ps), new_rows)
    return len(new_rows)


class ProgressWriter(RecordWriter[ProgressRecord]):
    """Append changed percent complete snapshots of ProgressRecords (percent 0..100).

    Held: 'bad_percent', 'unmapped' (no project: a snapshot under UNMAPPED means nothing),
    'unknown_task'. Deletions are ignored: snapshots are history and never removed.
    """

    record_type = ProgressRecord
    table = _ps

    def validate(self, record: ProgressRecord) -> tuple[str, str] | None:
        return percent_problem("percent", record.percent)

    def resolve(self, valid: Mapping[str, ProgressRecord]) -> None:
        ctx = self.ctx
        refs = {(r.project_ref_type, r.project_ref) for r in valid.values()}
        self.placements = resolve_projects(
            ctx.session, ctx.settings, ctx.source, refs, ctx.recorded_at
        )
        tasks = (r.task_ref for r in valid.values() if r.task_ref)
        self.tasks = resolve_keys(ctx.session, ctx.source, "task", tasks)

    def stored(self, valid: Mapping[str, ProgressRecord]) -> Mapping[Any, Row]:
        return {}  # `append_progress` compares with the percent in force on the day

    def row(self, key: str, record: ProgressRecord, old: Row | None) -> dict[str, Any] | None:
        r = record
        placement = self.placements[(r.project_ref_type, r.project_ref)]
        if not placement.mapped:
            self.hold(key, "unmapped", f"no project for {r.project_ref!r}", r)
            return None
        if r.task_ref and r.task_ref not in self.tasks:
            self.hold(key, "unknown_task", f"no task {r.task_ref!r}", r)
            return None
        task_id = self.tasks[r.task_ref] if r.task_ref else None
        return {
            "project_id": placement.project_id,
            "task_id": task_id,
            "status_date": r.status_date,
            "percent": r.percent,
        }

    def new_row(self, key: str, record: ProgressRecord, row: dict[str, Any]) -> dict[str, Any]:
        return row

    def write(self, rows: list[dict[str, Any]]) -> int:
        """Append the snapshots that change the percent in force; the others count unchanged."""
        return append_progress(self.ctx, [Progress(**row) for row in rows])

    def closed(self, deletions: Sequence[str]) -> Iterable[str]:
        return ()

    def delete(self, deletions: Sequence[str]) -> int:
        return 0


apply_progress = ProgressWriter.apply
