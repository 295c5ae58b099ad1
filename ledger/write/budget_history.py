"""History of budget lines (rule 3 applied to budgets): versions of lines and `budget_entry`.

A line's live version is its values while it is not deleted, else nothing. Going from one
live version to another writes nothing when nothing changed; one entry with the deltas when
only amount, base amount or hours changed; a reversal of the old version plus the full new
one when a dimension (project, task, cost type, period, currency, counts) changed. So for
every budget line the sum of its entries equals its live values, in every delta column.
Lines and entries are written set-based from TEMP stage tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, and_, insert, select, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import staging
from pmo_ledger.ledger.models import BudgetEntry, BudgetLine, table_of
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.entries import entry_rows, live
from pmo_ledger.ledger.write.keyed_rows import differs

#: A change in any of these moves money between analysis cells: reversal plus new version.
BUDGET_DIMENSIONS = ("project_id", "task_id", "cost_type", "period", "currency", "counts")

_line: Table = table_of(BudgetLine)
_entry: Table = table_of(BudgetEntry)
_META = MetaData()
#: Entries to append, joined to their line by (version_id, external_id) once lines exist.
stage_budget_history = Table(
    "stage_budget_history",
    _META,
    *[Column(c.name, c.type) for c in _entry.columns if c.name not in ("id", "budget_line_id")],
    Column("external_id", String(255)),
    Column("seq", Integer),  # entries keep the order they were made in (reversal first)
    prefixes=["TEMPORARY"],
)
#: Versions whose stored lines a batch needs.
stage_budget_version = Table(
    "stage_budget_version", _META, Column("version_id", Integer), prefixes=["TEMPORARY"]
)
#: Every column of a line version (the surrogate id and created_at aside).
LINE_COLUMNS = tuple(
    c.name for c in staging.stage_budget_line.columns if c.name not in ("line_id", "action")
)


class BudgetLineBatch:
    """Budget line versions and their entries, written set-based in `flush`."""

    def __init__(self, ctx: WriteContext) -> None:
        self.ctx = ctx
        self.lines: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []

    def change(self, old: Mapping[str, Any] | None, new: dict[str, Any], reason: str) -> None:
        """Stage a line going from `old` (None: new line) to `new` (every line column)."""
        if old is not None and not differs(old, {c: new[c] for c in new if c != "updated_at"}):
            return
        if old is not None and live(old) is None:
            reason = "insert"  # a deleted line coming back is a new line for the history
        stage = {**new, "line_id": old["id"] if old else None}
        stage["action"] = "update" if old else "insert"
        self.lines.append(stage)
        for row in entry_rows(live(old), live(new), reason, BUDGET_DIMENSIONS):
            row.update(
                seq=len(self.entries),
                version_id=new["version_id"],
                external_id=new["external_id"],
                run_id=self.ctx.run_id,
                recorded_at=self.ctx.recorded_at,
            )
            self.entries.append(row)

    def flush(self) -> int:
        """Insert and update the staged lines, append their entries; returns the entry count."""
        s = self.ctx.session
        st = staging.stage_budget_line
        if staging.fill(s, st, self.lines):
            cols = list(LINE_COLUMNS)
            s.execute(
                insert(_line).from_select(
                    [*cols, "created_at"],
                    select(*[st.c[c] for c in cols], st.c.updated_at).where(
                        st.c.action == "insert"
                    ),
                )
            )
            keep = ("version_id", "external_id")
            s.execute(
                update(_line)
                .values({c: st.c[c] for c in cols if c not in keep})
                .where(_line.c.id == st.c.line_id, st.c.action == "update")
            )
        sh = stage_budget_history
        n = staging.fill(s, sh, self.entries)
        if n:
            cols = [c.name for c in sh.columns if c.name not in ("external_id", "seq")]
            s.execute(
                insert(_entry).from_select(
                    ["budget_line_id", *cols],
                    select(_line.c.id, *[sh.c[c] for c in cols])
                    .join(
                        _line,
                        and_(
                            _line.c.version_id == sh.c.version_id,
                            _line.c.external_id == sh.c.external_id,
                        ),
                    )
                    .order_by(sh.c.seq),
                )
            )
        self.lines.clear()
        self.entries.clear()
        return n


def stored_lines(
    session: Session, version_ids: Iterable[int]
) -> dict[int, dict[str, dict[str, Any]]]:
    """Stored lines (deleted ones too) of these versions: version id -> external id -> row."""
    ids = set(version_ids)
    out: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    if not ids:
        return out
    staging.fill(session, stage_budget_version, [{"version_id": i} for i in ids])
    rows = session.execute(
        select(_line).join(
            stage_budget_version, _line.c.version_id == stage_budget_version.c.version_id
        )
    ).mappings()
    for r in rows:
        out[r["version_id"]][r["external_id"]] = dict(r)
    return out


def deleted_version(row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    new = {c: row[c] for c in LINE_COLUMNS}
    new.update(deleted_at=now, updated_at=now)
    return new
