"""The protocol a record type fills in to be written, and the one driver that runs it.

Applying a batch of one record type is the same sequence for every type but actuals (money
lines with their append-only entries, `ledger.write.actuals`) and FX rates (`ledger.fx.rates`):

1. `latest`: one record per `key`, the newest (rule 5);
2. `cover`: the fiscal years its dates and periods fall in exist;
3. `check`: `validate` each record; what fails waits in quarantine (`hold`), never loads;
4. `load`: `resolve` the references (projects, tasks, resources, rates), read the `stored`
   rows with one join over the staged keys, build each record's `row` (or hold it), diff it
   against the stored row so a replay writes nothing, `write` the changed rows in one
   statement, then the type's own steps `after` the write;
5. `delete` the keys the source reported deleted (`closed`: the quarantine keys they close);
6. resolve the open quarantine entries of the keys that loaded or were deleted.

`RecordWriter.apply(ctx, stream, records, deletions, *, held)` runs it for one batch: it
takes the batch's WriteContext, writes set-based on ctx.session and never commits, appends
what cannot load to `held` (the batch stores it in quarantine) and returns the ApplyStats.
A record type subclasses RecordWriter with its record type, table and upsert columns and
fills in `validate` and `row`; the other hooks have defaults for a table keyed by
(source[, stream], external_id) with `deleted_at`, and a type overrides a step only where it
genuinely differs (budgets' versions and lines, projects' links, progress snapshots).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import Table

from pmo_ledger.ledger import quarantine
from pmo_ledger.ledger.upsert import upsert
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.keyed_rows import (
    differs,
    held_item,
    latest_by_key,
    soft_delete,
    stored_rows,
)
from pmo_ledger.ledger.write.stats import ApplyStats

R = TypeVar("R")

#: A stored row, as a mapping of its columns.
Row = Mapping[str, Any]


class RecordWriter(Generic[R]):
    """One record type's writer for one batch (see the module docstring).

    Class attributes: `record_type` (what it writes), `table`, `conflict` (the upsert key),
    `update` (the columns a re-sent row overwrites) and `by_stream` (the stream is part of
    the key: stored rows and deletions are the stream's own).
    """

    record_type: ClassVar[type[Any]]
    table: ClassVar[Table]
    conflict: ClassVar[Sequence[str]] = ("source", "external_id")
    update: ClassVar[Sequence[str]] = ()
    by_stream: ClassVar[bool] = False

    def __init__(self, ctx: WriteContext, stream: str, held: list[quarantine.Held]) -> None:
        self.ctx, self.stream, self.held = ctx, stream, held
        self.stats = ApplyStats()
        #: Keys held in quarantine during this batch: a row held in `row` is written but its
        #: key did not load (its quarantine entry stays open).
        self.held_keys: set[str] = set()
        self.latest_records: dict[str, R] = {}
        self.deletions: Sequence[str] = ()

    @classmethod
    def apply(
        cls,
        ctx: WriteContext,
        stream: str,
        records: Sequence[R],
        deletions: Sequence[str] = (),
        *,
        held: list[quarantine.Held],
    ) -> ApplyStats:
        """Apply one batch of this record type: its records and the keys it deleted."""
        return cls(ctx, stream, held).run(records, deletions)

    def run(self, records: Sequence[R], deletions: Sequence[str]) -> ApplyStats:
        """The sequence: latest, cover, check, load, delete, resolve quarantine."""
        ctx = self.ctx
        self.stats.read = len(records)
        self.deletions = deletions
        self.latest_records = latest = self.latest(records)
        self.cover(latest)
        valid = self.check(latest, deletions)
        loaded = self.load(valid)
        closed = dict.fromkeys(self.closed(deletions))
        self.stats.deleted = self.delete(deletions)
        s, now = ctx.session, ctx.recorded_at
        quarantine.resolve(s, ctx.source, self.stream, loaded, "loaded", now)
        quarantine.resolve(s, ctx.source, self.stream, closed, "deleted", now)
        return self.stats

    # --- the steps: override where a type differs --------------------------------------------

    def key(self, record: R) -> str:
        """The record's key in the batch and in quarantine."""
        return str(record.external_id)  # type: ignore[attr-defined]

    def latest(self, records: Sequence[R]) -> dict[str, R]:
        """One record per key: the newest by source_modified_at, else the last one given."""
        return latest_by_key(records, self.key)  # type: ignore[type-var]

    def cover(self, latest: Mapping[str, R]) -> None:
        """Make sure the fiscal periods the records name exist (before validating them)."""

    def validate(self, record: R) -> tuple[str, str] | None:
        """(reason, detail) when the record cannot be applied, else None."""
        raise NotImplementedError

    def check(self, latest: Mapping[str, R], deletions: Sequence[str]) -> dict[str, R]:
        """The records that pass `validate`; the others are held."""
        valid: dict[str, R] = {}
        for key, r in latest.items():
            problem = self.validate(r)
            if problem is None:
                valid[key] = r
            else:
                self.hold(key, *problem, r)
        return valid

    def load(self, valid: Mapping[str, R]) -> dict[str, datetime | None]:
        """Write the valid records; returns the keys that loaded, with their version."""
        self.resolve(valid)
        existing = self.stored(valid)
        rows: list[dict[str, Any]] = []
        loaded: dict[str, datetime | None] = {}
        for key, r in valid.items():
            old = existing.get(self.stored_key(key, r))
            row = self.row(key, r, old)
            if row is None:
                continue
            if key in self.held_keys:
                self.stats.parked += 1  # written (or unchanged) and held: waiting
            else:
                loaded[key] = self.loaded_at(r)
            if old is not None and not differs(old, row):
                self.stats.unchanged += 1
                continue
            rows.append(self.new_row(key, r, row))
        self.stats.written = self.write(rows)
        self.stats.unchanged += len(rows) - self.stats.written
        self.after(valid, rows, existing, loaded)
        return loaded

    def resolve(self, valid: Mapping[str, R]) -> None:
        """Look up what the rows refer to (project placements, tasks, resources, rates)."""

    def here(self) -> tuple[Any, ...]:
        """The WHERE terms that select this source's (and stream's) rows of `table`."""
        t, ctx = self.table, self.ctx
        if self.by_stream:
            return (t.c.source == ctx.source, t.c.stream == self.stream)
        return (t.c.source == ctx.source,)

    def stored(self, valid: Mapping[str, R]) -> Mapping[Any, Row]:
        """The stored rows of the valid records, by `stored_key`."""
        return stored_rows(self.ctx.session, self.table, "external_id", valid, *self.here())

    def stored_key(self, key: str, record: R) -> Hashable:
        """The key of the record's stored row in `stored`."""
        return key

    def row(self, key: str, record: R, old: Row | None) -> dict[str, Any] | None:
        """The compared columns of the record's new row; None when it is not written (held,
        or a version older than the stored one: then it counts itself unchanged). A row
        returned after `hold` is written but its key waits in quarantine."""
        raise NotImplementedError

    def loaded_at(self, record: R) -> datetime | None:
        """The version a loaded key resolves its quarantine entries with."""
        return record.source_modified_at  # type: ignore[attr-defined,no-any-return]

    def new_row(self, key: str, record: R, row: dict[str, Any]) -> dict[str, Any]:
        """A changed row as written: its compared columns, keys and timestamps."""
        now = self.ctx.recorded_at
        keys = {"source": self.ctx.source}
        if self.by_stream:
            keys["stream"] = self.stream
        return {**row, **keys, "created_at": now, "updated_at": now}

    def write(self, rows: list[dict[str, Any]]) -> int:
        """Write the changed rows (one upsert); returns how many were written."""
        upsert(self.ctx.session, self.table, rows, list(self.conflict), update=self.update)
        return len(rows)

    def after(
        self,
        valid: Mapping[str, R],
        rows: list[dict[str, Any]],
        existing: Mapping[Any, Row],
        loaded: dict[str, datetime | None],
    ) -> None:
        """The type's own steps once its rows are written (may hold keys out of `loaded`)."""

    def closed(self, deletions: Sequence[str]) -> Iterable[str]:
        """The quarantine keys the deletions close."""
        return deletions

    def delete(self, deletions: Sequence[str]) -> int:
        """Set deleted_at on the deleted keys' live rows (rows stay for their history);
        returns how many it marked."""
        ctx = self.ctx
        return soft_delete(
            ctx.session, self.table, "external_id", deletions, ctx.recorded_at, *self.here()
        )

    # --- for the hooks -----------------------------------------------------------------------

    def hold(self, key: str, reason: str, detail: str, record: R) -> None:
        """Hold the record in quarantine under `key` with a reason and a detail."""
        self.held.append(held_item(key, reason, detail, record))  # type: ignore[arg-type]
        self.held_keys.add(key)
