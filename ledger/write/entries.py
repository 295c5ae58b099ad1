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

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, insert, literal, select, text, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pmo_ledger.ledger import aggregates, staging
from pmo_ledger.ledger.models import ActualLine, LedgerEntry, table_of
from pmo_ledger.ledger.write.inflight import InFlight

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
    if c.name not in ("line_id", "action", "entry_reason", "chunk")
)
#: New lines a writer sends ahead at a time on PostgreSQL (`LineWriter.writing_ahead`).
AHEAD_CHUNK = 10_000
#: The first chunk of a block is smaller (at most `AHEAD_CHUNK`): the server starts writing
#: sooner, as it is idle until the first chunk goes.
AHEAD_FIRST = 2_000

_al = table_of(ActualLine)
_le = table_of(LedgerEntry)
#: SQLite gives a new row the largest id plus one until the largest is 2**63 - 1 (then a
#: random free one): the entries are read back by id range only far below that.
_ROWID_ROOM = 2**62


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

    PostgreSQL, inside `writing_ahead`: new lines are written in chunks while Python builds
    the next ones (see there). Everything else waits for `flush`, which writes what is left;
    the lines, entries and their ids are the same as if all had waited.
    """

    # Written ahead (PostgreSQL): the chunk being built, its reason, chunks and lines sent, and
    # whether chunks may still go (every new line and derived entry so far is in them).
    _chunk: list[dict[str, Any]]
    _chunk_reason: str | None
    _chunks: int
    _sent: int
    _ahead_ok: bool

    def __init__(
        self, session: Session, *, run_id: int | None, recorded_at: datetime, inline_max: int
    ) -> None:
        self.session = session
        self.run_id = run_id
        self.recorded_at = recorded_at
        self.inline_max = inline_max
        self._pg = session.get_bind().dialect.name == "postgresql"
        self._ahead: InFlight | None = None
        self._reset()

    @contextmanager
    def writing_ahead(self) -> Iterator[None]:
        """PostgreSQL: while open, each `AHEAD_CHUNK` new lines (`AHEAD_FIRST` the first time)
        with their one derived entry are copied to the stage and inserted by a statement sent
        without waiting, so the server writes them while Python builds and formats the next
        chunk. The block must not use the session
        itself (a guard collects the statement in flight before any statement through it).
        Leaving the block collects the statement in flight: its error (IntegrityError,
        DataError...) is raised there, or at the next chunk, inside the caller's savepoint.

        New lines keep their order, ids and entries: chunks are sent only while every new
        line and derived entry staged so far is in them (another kind stops the chunks and
        waits for `flush`)."""
        if not self._pg or self._ahead is not None:
            yield
            return
        self._ahead = InFlight(self.session)
        self._ahead_ok = not (self._inserts or self._derived)
        try:
            yield
        except BaseException:
            try:
                self._ahead.close()
            except Exception:  # noqa: BLE001, S110 - the block's own error is the one to raise
                pass
            raise
        else:
            if self._chunk and self._ahead_ok:
                # The last chunk goes ahead too: its text is formatted while the one before
                # it is still being written (the flush would format it with the server idle).
                self._send_chunk()
            self._ahead.close()
        finally:
            self._ahead = None
            self._keep_chunk()

    def add(self, change: LineChange) -> int:
        """Stage one change; returns the number of entries it writes."""
        new = dict(change.new)
        new["updated_at"] = self.recorded_at
        new["last_run_id"] = self.run_id
        new["line_id"] = change.line_id
        new["action"] = "insert" if change.line_id is None else "update"
        new["entry_reason"] = None
        old, now = live(change.old), live(new)
        if old is None and now is not None:
            # The entry is the whole new version: SQL derives it from the staged line.
            new["entry_reason"] = change.reason
            self._sources.add(new["source"])
            if self._ahead is not None and self._ahead_ok:
                if change.line_id is None and self._chunk_reason in (None, change.reason):
                    self._chunk.append(new)
                    self._chunk_reason = change.reason
                    size = min(AHEAD_FIRST, AHEAD_CHUNK) if not self._chunks else AHEAD_CHUNK
                    if len(self._chunk) >= size:
                        self._send_chunk()
                    return 1
                self._ahead_ok = False  # sent later than a line staged after it: wait
            self._lines.append(new)
            self._inserts += change.line_id is None
            self._derived += 1
            return 1
        if self._ahead is not None and change.line_id is None:
            self._ahead_ok = False
        self._lines.append(new)
        self._inserts += change.line_id is None
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
        return len(self._lines) + len(self._chunk) + self._sent

    def _send_chunk(self) -> None:
        """Format the chunk's COPY text while the statement before it is still in flight,
        then, once that one is done, copy it to the stage and send the chunk's insert."""
        assert self._ahead is not None and self._chunk_reason is not None
        rows, self._chunk = self._chunk, []
        self._chunks += 1
        for row in rows:
            row["chunk"] = self._chunks
        st = staging.stage_line
        try:
            names, data = staging.copy_text(self.session, st, rows)
        except DBAPIError:
            self._ahead.collect()  # the statement in flight was sent first: its error first
            raise
        self._ahead.collect()
        if self._chunks == 1:
            staging.empty(self.session, st)
        staging.copy_in(self.session, st, names, [data])
        stmt = _insert_with_entries(st.c.chunk == self._chunks, self._chunk_reason)
        dialect = self.session.get_bind().dialect
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        # '%' is written '%%' for the driver's parameter merge; this text goes as it is.
        self._ahead.send(sql.replace("%%", "%"))
        self._sent += len(rows)

    def _keep_chunk(self) -> None:
        """The chunk not sent goes to `flush`, before every line staged after it."""
        n = len(self._chunk)
        self._lines[:0] = self._chunk
        self._chunk = []
        self._inserts += n
        self._derived += n

    def flush(self) -> FlushResult:
        """Insert new lines, update changed ones, append entries, maintain aggregates."""
        s = self.session
        self._keep_chunk()
        st = staging.stage_line
        cols = list(LINE_COLUMNS)
        # PostgreSQL: new lines and their entries in one statement (no join back to the lines)
        # when every new line has its derived entry, all with one reason, and no other line
        # derives one (its entry would come before theirs).
        reasons = (
            {r["entry_reason"] for r in self._lines if r["action"] == "insert"}
            if self._inserts and self._derived == self._inserts
            else set()
        )
        one_reason = (
            bool(self._inserts)
            and self._derived == self._inserts
            and len(reasons) == 1
            and None not in reasons
        )
        together = self._pg and one_reason
        # SQLite, in the same case: the new lines' entries are read back from the lines this
        # INSERT adds, the ids above the largest before it (given in the stage's order, the
        # largest plus one each), not joined back through the key index.
        above: int | None = None
        ranged = False
        if not self._pg and one_reason:
            above = s.scalar(select(func.max(_al.c.id)))
            ranged = above is None or above < _ROWID_ROOM
        # SQLite, when the flush is only such new lines and enough of them that the aggregates
        # are marked stale (not refreshed from the stage): the lines go straight into
        # actual_line, not through the stage.
        direct = (
            ranged
            and not self._chunks
            and self._inserts == len(self._lines)
            and not self._entries
            and self._derived >= self.inline_max
        )
        if self._chunks:
            # The stage holds the chunks written ahead: add the rest to it.
            n_lines = staging.append(s, st, self._lines)
            if n_lines > self._inserts:
                s.execute(text(f"ANALYZE {st.name} (line_id)"))
            rest: tuple[Any, ...] = (st.c.chunk.is_(None),)
        elif direct:
            n_lines = len(self._lines)
            rest = ()
        else:
            n_lines = staging.fill(s, st, self._lines)
            rest = ()
        if together:
            s.execute(_insert_with_entries(and_(st.c.action == "insert", *rest), reasons.pop()))
        elif direct:
            staging.insert_rows(
                s, _al, st, self._lines, {"created_at": "updated_at", "first_run_id": "last_run_id"}
            )
        elif self._inserts:
            s.execute(_insert_staged_lines(and_(st.c.action == "insert", *rest)))
        if n_lines > self._inserts:
            s.execute(
                update(_al)
                .values({c: st.c[c] for c in cols if c not in ("source", "stream", "external_id")})
                .where(_al.c.id == st.c.line_id, st.c.action == "update")
            )
        entry_cols = [c.name for c in _le.columns if c.name not in ("id", "line_id")]
        if ranged:
            from_line = _whole_version_entry(_al.c, literal(reasons.pop()))
            s.execute(
                insert(_le).from_select(
                    ["line_id", *entry_cols],
                    select(_al.c.id, *[from_line[c] for c in entry_cols])
                    .where(true() if above is None else _al.c.id > above)
                    .order_by(_al.c.id),
                )
            )
        elif self._derived and not together:
            derived = _whole_version_entry(st.c, st.c.entry_reason)
            lines, line = join_lines(
                s, st, (st.c.source, st.c.stream, st.c.external_id), [_al.c.id]
            )
            s.execute(
                insert(_le).from_select(
                    ["line_id", *entry_cols],
                    select(line.id, *[derived[c] for c in entry_cols])
                    .select_from(lines)
                    .where(st.c.entry_reason.is_not(None), *rest),
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
        changed = self._derived + self._sent + len(self._changed_keys)
        if changed:
            if changed < self.inline_max:
                aggregates.refresh_staged_groups(s)
            else:
                inline = False
                aggregates.mark_stale(s, self._sources, self.recorded_at)
        total = n_entries + self._derived + self._sent
        n_lines += self._sent
        self._reset()
        return FlushResult(n_lines, total, inline)

    def _reset(self) -> None:
        self._lines: list[dict[str, Any]] = []
        self._entries: list[dict[str, Any]] = []
        self._inserts = 0
        self._derived = 0
        self._changed_keys: set[tuple[str, str, str]] = set()
        self._sources: set[str] = set()
        self._chunk = []
        self._chunk_reason: str | None = None
        self._chunks = 0
        self._sent = 0
        self._ahead_ok = False


def _whole_version_entry(line: Any, reason: Any) -> dict[str, Any]:
    """The entry that is a line's whole version, by entry column, from `line`'s columns (the
    stage's, the lines an INSERT returned, or actual_line's) and the `reason` expression."""
    return {
        **{d: line[d] for d in LINE_DIMENSIONS},
        "source": line.source,
        "amount_delta": line.amount,
        "base_delta": line.base_amount,
        "hours_delta": line.hours,
        "run_id": line.last_run_id,
        "recorded_at": line.updated_at,
        "reason": reason,
    }


def _insert_staged_lines(where: Any) -> Any:
    """INSERT into actual_line the staged lines matching `where` (created now, by this run)."""
    st = staging.stage_line
    cols = list(LINE_COLUMNS)
    return insert(_al).from_select(
        [*cols, "created_at", "first_run_id"],
        select(*[st.c[c] for c in cols], st.c.updated_at, st.c.last_run_id).where(where),
    )


def _insert_with_entries(where: Any, reason: str) -> Any:
    """PostgreSQL: INSERT the staged new lines matching `where` and, in the same statement,
    their one entry each (the whole version, `reason`) from the rows the insert returns, in
    the lines' order (`WITH ins AS (INSERT ... RETURNING ...) INSERT INTO ledger_entry ...`)."""
    ins = (
        _insert_staged_lines(where)
        .returning(
            _al.c.id,
            _al.c.source,
            *[_al.c[d] for d in LINE_DIMENSIONS],
            _al.c.amount,
            _al.c.base_amount,
            _al.c.hours,
            _al.c.last_run_id,
            _al.c.updated_at,
        )
        .cte("ins")
    )
    derived = _whole_version_entry(ins.c, literal(reason))
    entry_cols = [c.name for c in _le.columns if c.name not in ("id", "line_id")]
    return (
        insert(_le)
        .add_cte(ins)
        .from_select(
            ["line_id", *entry_cols],
            select(ins.c.id, *[derived[c] for c in entry_cols]).order_by(ins.c.id),
        )
    )
