"""Budgets (rule 11): versions, phased lines and their append-only `budget_entry` history.

A BudgetRecord is one version of a project's budget with all its lines. A version is keyed by
(source, stream, external_id); its lines by (version, external_id). A line without a period is
phased by `[ledger] budget_phasing` into one line per period (`<line id>@<period>`):
- `lump`: the whole amount in the period of the version's planned_start (else effective_from);
- `linear`: evenly over the periods between planned_start and planned_finish, each share
  rounded to the currency's minor unit (hours to 4 places) ROUND_HALF_UP, the rounding
  remainder in the last period so the shares add up exactly; `lump` when a date is missing.
A line whose period is a fiscal year (`"2025"`: an annual value, such as SAP's BPJA) is phased
the same way inside that year: the version's planned dates cut to the year's first and last
day (the whole year where they miss it), `lump` in the first period of that span.
Base amounts use the rate of the line's period's last day: a budget plans a whole period, and
period-end is the rate period reports are closed with.

Line history (`budget_entry`) works as for actuals: see `ledger.write.budget_history`.

Rule 5's guard (a version older than the stored one is skipped) holds for versions that are
one source row. A `derived` version (`BudgetRecord.derived`: re-derived by the connector from
a full re-read of the rows that make it) is not one row, and its timestamps cannot say which
read is newer: it replaces the stored version whenever its content differs, and within a
batch the last one given wins (pages arrive in the order they were read).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Table, exists, update

from pmo_ledger.ledger.currencies import is_currency, round_money
from pmo_ledger.ledger.fx.rates import RateBook
from pmo_ledger.ledger.models import BudgetVersion, table_of
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, older_version
from pmo_ledger.ledger.resolve import UNMAPPED, resolve_keys, resolve_projects
from pmo_ledger.ledger.time.calendar import year_bounds
from pmo_ledger.ledger.write.budget_history import BudgetLineBatch, deleted_version, stored_lines
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.entries import live
from pmo_ledger.ledger.write.hashing import content_hash
from pmo_ledger.ledger.write.keyed_rows import (
    HOURS_Q,
    is_period,
    number_problem,
    period_problem,
    q,
    stored_rows,
)
from pmo_ledger.ledger.write.record_writer import RecordWriter, Row

KINDS = ("baseline", "current", "forecast", "plan", "released")
#: A line as phased: (external_id, period, amount, hours, phasing).
Phased = tuple[str, str, Decimal, Decimal | None, str]

_version: Table = table_of(BudgetVersion)
_VERSION_UPDATE = (
    "source_modified_at",
    "project_id",
    "project_ref",
    "kind",
    "label",
    "number",
    "status",
    "effective_from",
    "planned_start",
    "planned_finish",
    "content_hash",
    "deleted_at",
    "updated_at",
)


# --- phasing ---------------------------------------------------------------------------------


def split_evenly(
    amount: Decimal, hours: Decimal | None, currency: str, n: int
) -> list[tuple[Decimal, Decimal | None]]:
    """`amount` and `hours` in `n` shares: each rounded (minor unit; hours 4 places)
    ROUND_HALF_UP, the remainder in the last share so they sum exactly. Raises ValueError
    for n < 1."""
    if n < 1:
        raise ValueError("a budget is split over at least one period")
    share = round_money(amount / n, currency)
    amounts = [share] * (n - 1) + [amount - share * (n - 1)]
    if hours is None:
        return [(a, None) for a in amounts]
    h = (hours / n).quantize(HOURS_Q, rounding=ROUND_HALF_UP)
    hours_list = [h] * (n - 1) + [hours - h * (n - 1)]
    return list(zip(amounts, hours_list, strict=True))


def phase_line(ctx: WriteContext, version: BudgetRecord, line: BudgetLineRecord) -> list[Phased]:
    """(external_id, period, amount, hours, phasing) of the lines one source line becomes.
    Raises LookupError when a date or period is outside the fiscal calendar."""
    start, finish = version.planned_start, version.planned_finish
    if is_year(line.period):
        first, last = year_bounds(ctx.settings.calendar, int(str(line.period)))
        start, finish = max(start or first, first), min(finish or last, last)
        if start > finish:  # the planned dates miss the year: the whole year
            start, finish = first, last
    elif line.period is not None:
        ctx.periods.bounds(line.period)  # LookupError for a period the calendar lacks
        return [(line.external_id, line.period, line.amount, line.hours, "source")]
    if ctx.settings.budget_phasing == "linear" and start and finish and start <= finish:
        periods = ctx.periods.periods_between(start, finish)
        if periods:
            shares = split_evenly(line.amount, line.hours, line.currency, len(periods))
            return [
                (f"{line.external_id}@{p}", p, a, h, "linear")
                for p, (a, h) in zip(periods, shares, strict=True)
            ]
    period = ctx.periods.period_for(start or version.effective_from)
    return [(f"{line.external_id}@{period}", period, line.amount, line.hours, "lump")]


# --- validation ------------------------------------------------------------------------------


def validate_budget(r: BudgetRecord) -> tuple[str, str] | None:
    """(reason, detail) when a budget version cannot be loaded, else None."""
    if not r.external_id:
        return "missing_key", "the record has no external id"
    if r.kind not in KINDS:
        return "bad_kind", f"kind must be one of {', '.join(KINDS)}, got {r.kind!r}"
    for name in ("effective_from", "planned_start", "planned_finish"):
        value = getattr(r, name)
        if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
            return "bad_date", f"{name} is not a date: {value!r}"
    if not isinstance(r.effective_from, date):
        return "bad_date", "the version has no effective_from"
    seen: set[str] = set()
    for line in r.lines:
        problem = _line_problem(line)
        if problem is None and line.external_id in seen:
            problem = ("duplicate_line", f"line {line.external_id!r} is given twice")
        if problem is not None:
            return problem
        seen.add(line.external_id)
    return None


def _line_problem(line: BudgetLineRecord) -> tuple[str, str] | None:
    if not line.external_id:
        return "missing_key", "a budget line has no external id"
    if line.amount is None:
        return "missing_amount", f"line {line.external_id!r} has no amount"
    problem = number_problem("amount", line.amount) or number_problem("hours", line.hours)
    if problem is not None:
        return problem
    if not is_currency(line.currency):
        return "unknown_currency", f"unknown currency {line.currency!r}"
    return None if is_year(line.period) else period_problem(line.period)


def is_year(period: str | None) -> bool:
    """Whether a line's period is a fiscal year (`"2025"`), phased inside that year."""
    return period is not None and len(period) == 4 and period.isdigit()


def _digest(r: BudgetRecord, phasing: str) -> str:
    """The version's content hash; with the phasing setting when some line needs phasing,
    so changing the setting re-phases the version on its next read."""
    digest = content_hash(r)
    if any(line.period is None or is_year(line.period) for line in r.lines):
        digest = hashlib.blake2b(f"{digest}|{phasing}".encode(), digest_size=20).hexdigest()
    return digest


# --- applying --------------------------------------------------------------------------------


class BudgetWriter(RecordWriter[BudgetRecord]):
    """Upsert budget versions with their phased lines and budget_entry history (rule 11).

    An unchanged version (same content hash, same project) writes nothing. A higher-numbered
    `current` version of the same project and source supersedes the lower ones. Deleting a
    version key, or a new version of it that is invalid, sets its deleted_at and reverses its
    lines. Held: validation reasons, 'bad_period', and 'unmapped' (not loaded: a budget needs
    a project).
    """

    record_type = BudgetRecord
    table = _version
    conflict = ("source", "stream", "external_id")
    update = _VERSION_UPDATE
    by_stream = True

    def latest(self, records: Sequence[BudgetRecord]) -> dict[str, BudgetRecord]:
        return _latest_versions(records)

    def cover(self, latest: Mapping[str, BudgetRecord]) -> None:
        ctx = self.ctx
        ctx.cover_dates(
            {
                d
                for r in latest.values()
                for d in (r.effective_from, r.planned_start, r.planned_finish)
                if isinstance(d, date)
            }
        )
        years = {ln.period for r in latest.values() for ln in r.lines if is_year(ln.period)}
        firsts = set()
        for year in years:
            try:
                firsts.add(year_bounds(ctx.settings.calendar, int(str(year)))[0])
            except LookupError:
                continue  # a calendar file without the year: the version is held
        ctx.cover_dates(firsts)
        ctx.cover_periods(
            {
                ln.period
                for r in latest.values()
                for ln in r.lines
                if ln.period and is_period(ln.period)
            }
        )

    def check(
        self, latest: Mapping[str, BudgetRecord], deletions: Sequence[str]
    ) -> dict[str, BudgetRecord]:
        """Valid versions whose lines phase into distinct line ids (kept in `phased`); a
        version reported deleted in the same batch is neither loaded nor held."""
        gone_keys = set(deletions)
        valid: dict[str, BudgetRecord] = {}
        self.phased: dict[str, list[list[Phased]]] = {}
        for key, r in latest.items():
            problem = validate_budget(r)
            if key in gone_keys:
                continue  # reported deleted in the same batch: the deletion wins
            if problem is None:
                try:
                    self.phased[key] = [phase_line(self.ctx, r, line) for line in r.lines]
                except LookupError as exc:
                    problem = ("bad_period", str(exc))
            if problem is None:
                ids = [piece[0] for pieces in self.phased[key] for piece in pieces]
                if len(set(ids)) < len(ids):
                    problem = ("duplicate_line", "two lines phase into the same line id")
            if problem is None:
                valid[key] = r
            else:
                self.hold(key, *problem, r)
        return valid

    def resolve(self, valid: Mapping[str, BudgetRecord]) -> None:
        ctx = self.ctx
        refs = {(r.project_ref_type, r.project_ref) for r in valid.values()}
        self.placements = resolve_projects(
            ctx.session, ctx.settings, ctx.source, refs, ctx.recorded_at
        )

    def stored(self, valid: Mapping[str, BudgetRecord]) -> Mapping[Any, Row]:
        """The stored versions of every key the batch names, deleted ones included."""
        keys = [*self.latest_records, *self.deletions]
        s = self.ctx.session
        self.existing = stored_rows(s, _version, "external_id", keys, *self.here())
        return self.existing

    def row(self, key: str, record: BudgetRecord, old: Row | None) -> dict[str, Any] | None:
        r = record
        placement = self.placements.get((r.project_ref_type, r.project_ref), UNMAPPED)
        if not placement.mapped:
            detail = f"no project for {r.project_ref_type} {r.project_ref!r}"
            self.hold(key, "unmapped", detail, r)
            return None
        if (
            not r.derived
            and old is not None
            and older_version(r.source_modified_at, old["source_modified_at"])
        ):
            self.stats.unchanged += 1  # a late page or a retry never goes back in time
            return None
        digest = _digest(r, self.ctx.settings.budget_phasing)
        return _version_row(r, placement.project_id, digest)

    def loaded_at(self, record: BudgetRecord) -> datetime | None:
        # A derived version resolves any held version of its key: it is the newest read.
        return None if record.derived else record.source_modified_at

    def new_row(self, key: str, record: BudgetRecord, row: dict[str, Any]) -> dict[str, Any]:
        now = self.ctx.recorded_at
        return {
            **row,
            "source_modified_at": record.source_modified_at,
            "source": self.ctx.source,
            "stream": self.stream,
            "superseded_at": None,
            "created_at": now,
            "updated_at": now,
        }

    def after(
        self,
        valid: Mapping[str, BudgetRecord],
        rows: list[dict[str, Any]],
        existing: Mapping[Any, Row],
        loaded: dict[str, datetime | None],
    ) -> None:
        if rows:
            _supersede(self.ctx)
        self.valid, self.rows = valid, rows

    def delete(self, deletions: Sequence[str]) -> int:
        """Write the lines of the written versions; delete the versions reported deleted or
        re-sent invalid (rule 5, superseded_invalid) and reverse their lines."""
        ctx, valid, existing = self.ctx, self.valid, self.existing
        s, source, now = ctx.session, ctx.source, ctx.recorded_at
        gone_keys = set(deletions)
        invalid = [k for k in self.latest_records if k not in valid and k not in gone_keys]
        gone = {
            k: existing[k]
            for k in (*deletions, *invalid)
            if k in existing and existing[k]["deleted_at"] is None
        }
        keys = [row["external_id"] for row in self.rows]
        written = stored_rows(s, _version, "external_id", keys, *self.here())
        lines = stored_lines(s, [v["id"] for v in (*written.values(), *gone.values())])
        batch = BudgetLineBatch(ctx)
        if written:
            ctx.authority.load_scopes(s, {v["project_id"] for v in written.values()})
            book = RateBook.load(
                s, ctx.settings, {ln.currency for r in valid.values() for ln in r.lines}
            )
            tasks = resolve_keys(
                s,
                source,
                "task",
                (ln.task_ref for r in valid.values() for ln in r.lines if ln.task_ref),
            )
            for key, version in written.items():
                new = _line_rows(ctx, version, valid[key], self.phased[key], book, tasks)
                old = lines.get(version["id"], {})
                for ext, row in new.items():
                    prior = old.get(ext)
                    batch.change(prior, row, "restate" if live(prior) else "insert")
                for ext, prior in old.items():
                    if ext not in new and live(prior) is not None:
                        batch.change(prior, deleted_version(prior, now), "delete")
        for version in gone.values():
            for prior in lines.get(version["id"], {}).values():
                if live(prior) is not None:
                    batch.change(prior, deleted_version(prior, now), "delete")
        if gone:
            s.execute(
                update(_version)
                .where(_version.c.id.in_([v["id"] for v in gone.values()]))
                .values(deleted_at=now, updated_at=now)
            )
        self.stats.entries = batch.flush()
        return len(gone)


apply_budgets = BudgetWriter.apply


def _latest_versions(records: Sequence[BudgetRecord]) -> dict[str, BudgetRecord]:
    """One version per key: the last one given when it is derived (see the module
    docstring), else the newest by source_modified_at (rule 5), ties to the last given."""
    out: dict[str, BudgetRecord] = {}
    for r in records:
        prev = out.get(r.external_id)
        if (
            prev is None
            or r.derived
            or not older_version(r.source_modified_at, prev.source_modified_at)
        ):
            out[r.external_id] = r
    return out


def _version_row(r: BudgetRecord, project_id: int, digest: str) -> dict[str, Any]:
    """The compared columns of a version's new state (keys and timestamps aside)."""
    return {
        "external_id": r.external_id,
        "project_id": project_id,
        "project_ref": r.project_ref,
        "kind": r.kind,
        "label": r.label,
        "number": r.number,
        "status": r.status,
        "effective_from": r.effective_from,
        "planned_start": r.planned_start,
        "planned_finish": r.planned_finish,
        "content_hash": digest,
        "deleted_at": None,
    }


def _line_rows(
    ctx: WriteContext,
    version: Mapping[str, Any],
    r: BudgetRecord,
    phased: list[list[Phased]],
    book: RateBook,
    tasks: Mapping[str, int],
) -> dict[str, dict[str, Any]]:
    """Every line of a version's new state (every line column), by line external id."""
    pid = version["project_id"]
    counts = ctx.authority.counts(ctx.source, "budget", pid)
    out: dict[str, dict[str, Any]] = {}
    for line, pieces in zip(r.lines, phased, strict=True):
        for ext, period, amount, hours, phasing in pieces:
            # The rate of the period's last day (see the module docstring).
            hit = book.lookup(line.currency, ctx.periods.bounds(period)[1])
            value = q(amount)
            assert value is not None
            out[ext] = {
                "version_id": version["id"],
                "external_id": ext,
                "project_id": pid,
                "task_id": tasks.get(line.task_ref) if line.task_ref else None,
                "cost_type": line.cost_type,
                "period": period,
                "currency": line.currency,
                "amount": value,
                "rate": hit.rate if hit else None,
                "base_amount": book.convert(value, hit) if hit else None,
                "hours": q(hours),
                "phasing": phasing,
                "counts": counts,
                "deleted_at": None,
                "updated_at": ctx.recorded_at,
            }
    return out


def _supersede(ctx: WriteContext) -> None:
    """Mark `current` versions of the source that a higher-numbered live `current` version
    of the same project follows: superseded_at = the batch's recorded_at."""
    newer = _version.alias("newer")
    later = exists().where(
        newer.c.source == _version.c.source,
        newer.c.project_id == _version.c.project_id,
        newer.c.kind == "current",
        newer.c.deleted_at.is_(None),
        newer.c.number > _version.c.number,
    )
    ctx.session.execute(
        update(_version)
        .where(
            _version.c.source == ctx.source,
            _version.c.kind == "current",
            _version.c.superseded_at.is_(None),
            _version.c.deleted_at.is_(None),
            later,
        )
        .values(superseded_at=ctx.recorded_at, updated_at=ctx.recorded_at)
    )
