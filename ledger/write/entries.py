"""How a change to a line becomes append-only entries (rule 3), and the set-based write of
line versions with their entries.

A line's *live version* is its dimensions and measures while it is not deleted, else nothing.
Going from one live version to another writes:
- nothing, when no dimension and no measure changed;
- one entry with the deltas, when only measures changed (a restatement, a rate arriving);
- a full reversal of the old version plus the full new version, when a dimension changed.
So for every line the sum of its entries equals its live measures, in every delta column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, insert, select, true, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import aggregates, staging
from pmo_ledger.ledger.models import ActualLine, LedgerEntry, table_of

#: A change in any of these moves money between analysis cells: reversal plus new version.
LINE_DIMENSIONS = (
    "project_id",
    "task_id",
    "resource_id",
    "kind",
    "cost_type",
    "period",
    "posted_on",
    "currency",
    "counts_amount",
    "counts_hours",
)
MEASURES = (("amount", "amount_delta"), ("base_amount", "base_delta"), ("hours", "hours_delta"))
#: Columns a line version carries (everything but the surrogate id and creation fields).
LINE_COLUMNS = tuple(
    c.name
    for c in staging.stage_line.columns
    if c.name not in ("line_id", "action", "entry_reason")
)

_al = table_of(ActualLine)
_le = table_of(LedgerEntry)


def join_lines(session: Session, stage: Any, key: Sequence[Any], columns: Sequence[Any]) -> Any:
    """`stage` joined to the actual lines its rows name by `key` (source, stream, external_id
    expressions), as (FROM clause, the line's columns by name).

    PostgreSQL: one probe of the key's unique index per staged row (LATERAL ... LIMIT 1, which
    the planner cannot flatten), whatever the ledger's size. A plain join was planned from
    actual_line's statistics, which a fast-growing or never-analyzed table does not have: it
    hash-joined a scan of the whole of actual_line, or walked the stream's whole index, once
    per batch (a cost that grew with the ledger, not with the batch)."""
    on = and_(_al.c.source == key[0], _al.c.stream == key[1], _al.c.external_id == key[2])
    if session.get_bind().dialect.name == "postgresql":
        line = select(*columns).where(on).limit(1).lateral("line")
        return stage.join(line, true()), line.c
    return stage.join(_al, on), _al.c


def live(version: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The version that counts: None for a missing or deleted line."""
    if version is None or version.get("deleted_at") is not None:
        return None
    return version


def _neg(value: Decimal | None) -> Decimal | None:
    return None if value is None else -value


def _delta(new: Decimal | None, old: Decimal | None) -> Decimal | None:
    if new is None and old is None:
        return None
    return (new or Decimal(0)) - (old or Decimal(0))


def _entry(
    version: Mapping[str, Any], sign: int, reason: str, dimensions: Sequence[str]
) -> dict[str, Any]:
    row = {d: version[d] for d in dimensions}
    for measure, delta in MEASURES:
        value = version.get(measure)
        row[delta] = value if sign > 0 else _neg(value)
    row["reason"] = reason
    return row


def entry_rows(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    reason: str,
    dimensions: Sequence[str] = LINE_DIMENSIONS,
) -> list[dict[str, Any]]:
    """The entries that take a live version from `old` to `new` (rule 3). `dimensions` are the
    columns whose change means reversal plus new version (budget lines have their own)."""
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        return [_entry(new, +1, reason, dimensions)]
    if new is None:
        return [_entry(old, -1, reason, dimensions)]
    if any(old[d] != new[d] for d in dimensions):
        return [_entry(old, -1, reason, dimensions), _entry(new, +1, reason, dimensions)]
    deltas = {delta: _delta(new.get(m), old.get(m)) for m, delta in MEASURES}
    if all(v is None or v == 0 for v in deltas.values()):
        return []
    row = {d: new[d] for d in dimensions}
    row.update(deltas)
    row["reason"] = reason
    return [row]


@dataclass(frozen=True, slots=True)
class LineChange:
    """A line going from `old` (None: new line) to `new`, both full versions (LINE_COLUMNS)."""

    line_id: int | None
    old: Mapping[str, Any] | None
    new: Mapping[str, Any]
    reason: str


@dataclass(frozen=True, slots=True)
class FlushResult:
    lines: int
    entries: int
    aggregates_inline: bool


class LineWriter:
    """Collects line changes of one batch and writes them set-based in `flush`.

    Takes a session and never commits. `recorded_at` is the batch's one UTC timestamp.
    """

    def __init__(
        self, session: Session, *, run_id: int | None, recorded_at: datetime, inline_max: int
    ) -> None:
        self.session = session
        self.run_id = run_id
        self.recorded_at = recorded_at
        self.inline_max = inline_max
        self._reset()

    def add(self, change: LineChange) -> int:
        """Stage one change; returns the number of entries it writes."""
        new = dict(change.new)
        new["updated_at"] = self.recorded_at
        new["last_run_id"] = self.run_id
        new["line_id"] = change.line_id
        new["action"] = "insert" if change.line_id is None else "update"
        new["entry_reason"] = None
        self._lines.append(new)
        if change.line_id is None:
            self._inserts += 1
        old, now = live(change.old), live(new)
        if old is None and now is not None:
            # The entry is the whole new version: SQL derives it from the staged line.
            new["entry_reason"] = change.reason
            self._derived += 1
            self._sources.add(new["source"])
            return 1
        rows = entry_rows(old, now, change.reason)
        for row in rows:
            row.update(
                seq=len(self._entries),
                source=new["source"],
                stream=new["stream"],
                external_id=new["external_id"],
                run_id=self.run_id,
                recorded_at=self.recorded_at,
            )
            self._entries.append(row)
        if rows:
            self._changed_keys.add((new["source"], new["stream"], new["external_id"]))
            self._sources.add(new["source"])
        return len(rows)

    def __len__(self) -> int:
        return len(self._lines)

    def flush(self) -> FlushResult:
        """Insert new lines, update changed ones, append entries, maintain aggregates."""
        s = self.session
        n_lines = staging.fill(s, staging.stage_line, self._lines)
        st = staging.stage_line
        cols = list(LINE_COLUMNS)
        if self._inserts:
            s.execute(
                insert(_al).from_select(
                    [*cols, "created_at", "first_run_id"],
                    select(*[st.c[c] for c in cols], st.c.updated_at, st.c.last_run_id).where(
                        st.c.action == "insert"
                    ),
                )
            )
        if n_lines > self._inserts:
            s.execute(
                update(_al)
                .values({c: st.c[c] for c in cols if c not in ("source", "stream", "external_id")})
                .where(_al.c.id == st.c.line_id, st.c.action == "update")
            )
        entry_cols = [c.name for c in _le.columns if c.name not in ("id", "line_id")]
        if self._derived:
            derived = {
                **{d: st.c[d] for d in LINE_DIMENSIONS},
                "source": st.c.source,
                "amount_delta": st.c.amount,
                "base_delta": st.c.base_amount,
                "hours_delta": st.c.hours,
                "run_id": st.c.last_run_id,
                "recorded_at": st.c.updated_at,
                "reason": st.c.entry_reason,
            }
            lines, line = join_lines(
                s, st, (st.c.source, st.c.stream, st.c.external_id), [_al.c.id]
            )
            s.execute(
                insert(_le).from_select(
                    ["line_id", *entry_cols],
                    select(line.id, *[derived[c] for c in entry_cols])
                    .select_from(lines)
                    .where(st.c.entry_reason.is_not(None)),
                )
            )
        n_entries = staging.fill(s, staging.stage_entry, self._entries)
        if n_entries:
            se = staging.stage_entry
            lines, line = join_lines(
                s, se, (se.c.source, se.c.stream, se.c.external_id), [_al.c.id]
            )
            s.execute(
                insert(_le).from_select(
                    ["line_id", *entry_cols],
                    select(line.id, *[se.c[c] for c in entry_cols])
                    .select_from(lines)
                    .order_by(se.c.seq),
                )
            )
        inline = True
        changed = self._derived + len(self._changed_keys)
        if changed:
            if changed < self.inline_max:
                aggregates.refresh_staged_groups(s)
            else:
                inline = False
                aggregates.mark_stale(s, self._sources, self.recorded_at)
        total = n_entries + self._derived
        self._reset()
        return FlushResult(n_lines, total, inline)

    def _reset(self) -> None:
        self._lines: list[dict[str, Any]] = []
        self._entries: list[dict[str, Any]] = []
        self._inserts = 0
        self._derived = 0
        self._changed_keys: set[tuple[str, str, str]] = set()
        self._sources: set[str] = set()
