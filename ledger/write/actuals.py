"""Applying ActualRecords and deletions of one (source, stream) to actual_line (rules 1-9).

Per batch: validate in Python; stage the keys and look up, set-based, the current lines, the
project placements, tasks, resources, rates and open quarantine entries; build each line's
new version in Python (Decimal, per-line rounding); then `LineWriter.flush` writes lines and
entries with INSERT ... SELECT / UPDATE ... FROM from the stage.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, Final

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine, staging
from pmo_ledger.ledger.currencies import in_range, is_currency, round_money
from pmo_ledger.ledger.fx.rates import RateBook, RateHit
from pmo_ledger.ledger.models import UNMAPPED_ID, ActualLine, table_of
from pmo_ledger.ledger.records import ActualRecord, older_version
from pmo_ledger.ledger.resolve import UNMAPPED, Placement, resolve_keys, resolve_projects
from pmo_ledger.ledger.types import MAX_AMOUNT, UtcDateTime
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.entries import LINE_COLUMNS, LineChange, LineWriter, join_lines
from pmo_ledger.ledger.write.hashing import HASH_VERSION, content_hash
from pmo_ledger.ledger.write.keyed_rows import (
    held_item,
    latest_by_key,
    number_problem,
    period_problem,
)
from pmo_ledger.ledger.write.mapping import repointed
from pmo_ledger.ledger.write.stats import ApplyStats
from pmo_ledger.ledger.write.valuation import CostRates

#: Text fields and the length their column holds (the same on both engines: SQLite would
#: take longer text, PostgreSQL would refuse the whole batch).
_LENGTHS = {
    name: table_of(ActualLine).c[name].type.length  # type: ignore[attr-defined]
    for name in (
        "external_id",
        "project_ref_type",
        "project_ref",
        "task_ref",
        "resource_ref",
        "role",
        "cost_type",
        "uom",
    )
}


#: The text fields' values of a record in `_LENGTHS`' order, and (name, limit) pairs.
_TEXTS = attrgetter(*_LENGTHS)
_LIMITS = tuple(_LENGTHS.items())
_NUMBERS = ("amount", "hours", "quantity", "base_amount")
_NUMBERS_OF = attrgetter(*_NUMBERS)


def validate(record: ActualRecord) -> tuple[str, str] | None:
    """(reason, detail) when the record cannot enter the ledger, else None."""
    if not record.external_id:
        return "missing_key", "the record has no external id"
    for (name, limit), value in zip(_LIMITS, _TEXTS(record), strict=True):
        if value is not None and len(value) > limit:
            return "value_too_long", f"{name} is {len(value)} characters, at most {limit}"
    if not isinstance(record.posted_on, date) or isinstance(record.posted_on, datetime):
        return "bad_date", f"posted_on is not a date: {record.posted_on!r}"
    if record.kind not in ("cost", "revenue"):
        return "bad_kind", f"kind must be cost or revenue, got {record.kind!r}"
    if record.amount is None and record.hours is None:
        return "missing_amount", "neither an amount nor hours"
    for name, value in zip(_NUMBERS, _NUMBERS_OF(record), strict=True):
        # The common case inline: None, or a finite Decimal in range (`number_problem` says
        # None for it); anything else gets `number_problem`'s own answer.
        if value is None or (
            value.__class__ is Decimal and value.is_finite() and -MAX_AMOUNT <= value <= MAX_AMOUNT
        ):
            continue
        problem = number_problem(name, value)
        if problem is not None:
            return problem
    if record.amount is not None and not is_currency(record.currency):
        if record.currency is None:
            return "missing_currency", f"amount {record.amount} has no currency"
        return "unknown_currency", f"unknown currency {record.currency!r}"
    return None if record.period is None else period_problem(record.period)


#: A stored line's slim version (`stored_versions`), the driver's row as it is: (external_id,
#: content_hash, live: not deleted, settled: live and under a project, so an equal hash leaves
#: it as it is, source_modified_at: raw, read with `changed_at`).
StoredVersion = tuple[str, str, bool, bool, datetime | str | None]
HASH: Final = 1
LIVE: Final = 2
SETTLED: Final = 3
CHANGED_AT: Final = 4
_CHANGED_AT = UtcDateTime()


def changed_at(version: StoredVersion) -> datetime | None:
    """A slim version's source_modified_at: PostgreSQL's driver gives an aware datetime (in
    the connection's time zone: it is only compared), SQLite's the stored text, read here only
    when it is compared (a record found unchanged never needs it)."""
    value = version[CHANGED_AT]
    if isinstance(value, str):
        return _CHANGED_AT.process_result_value(value, None)
    return value


def has_lines(session: Session, source: str, stream: str) -> bool:
    """Whether any line of (source, stream), deleted or not, is stored (one probe of the key's
    unique index)."""
    t = table_of(ActualLine)
    first = select(t.c.id).where(t.c.source == source, t.c.stream == stream).limit(1)
    return session.execute(first).first() is not None


def stored_versions(
    session: Session, source: str, stream: str, keys: Iterable[str]
) -> dict[str, StoredVersion]:
    """The stored lines of these keys, slim (`StoredVersion`), by key. Leaves exactly these
    keys staged in `stage_key` (for `quarantine.open_entries(..., staged=True)`).

    The rows are the driver's tuples: SQLAlchemy's rows and their processing (a UTC conversion
    or a parse per change time) cost more than the index probes."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    staging.fill_keys(session, wanted)
    k = staging.stage_key
    t = table_of(ActualLine)
    names = ("external_id", "content_hash", "deleted_at", "source_modified_at", "project_id")
    lines, line = join_lines(session, k, (source, stream, k.c.external_id), [t.c[n] for n in names])
    live = line.deleted_at.is_(None)
    query = select(
        line.external_id,
        line.content_hash,
        live,
        and_(live, line.project_id != UNMAPPED_ID),
        line.source_modified_at,
    ).select_from(lines)
    compiled = query.compile(dialect=session.get_bind().dialect)
    params: Any = compiled.params
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup or ())
    result = session.connection().exec_driver_sql(str(compiled), params)
    try:
        rows: Sequence[Any] = result.cursor.fetchall()
    finally:
        result.close()
    return {r[0]: r for r in rows}


def current_lines(
    session: Session, source: str, stream: str, keys: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The stored lines of these keys (deleted ones too), as dicts of column values."""
    wanted = set(keys)
    if not wanted:
        return {}
    staging.fill_keys(session, list(wanted))
    k = staging.stage_key
    t = table_of(ActualLine)
    lines, line = join_lines(session, k, (source, stream, k.c.external_id), list(t.c))
    rows = session.execute(select(*[line[c.name] for c in t.c]).select_from(lines)).mappings()
    return {r["external_id"]: dict(r) for r in rows}


def apply_actuals(
    ctx: WriteContext,
    stream: str,
    records: Sequence[ActualRecord],
    deletions: Sequence[str] = (),
    *,
    writer: LineWriter,
    held: list[quarantine.Held],
) -> ApplyStats:
    """Stage the line changes of `records` and `deletions` into `writer` (the caller flushes)
    and append quarantine items to `held`. Resolves quarantine entries of loaded keys."""
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    stats = ApplyStats(read=len(records))
    held_before = len(held)
    stats.count_records("read", records)
    gone_keys = set(deletions)
    # A key both sent and deleted in one batch: the deletion wins (as for budgets).
    latest = latest_by_key(records)
    if gone_keys:
        latest = {k: r for k, r in latest.items() if k not in gone_keys}
    # First the slim stored versions: an unchanged record (the bulk of any re-read) is settled
    # by its hash, without validating it, reading its line or resolving anything for it. Its
    # content is that of a live line, which was valid: validation reads only hashed fields.
    # A stream with no line yet (its first batch) has no stored version to look up: its keys
    # are not staged, and the open quarantine entries (if any) stage them themselves.
    # In a run that began with the stream empty, only keys it wrote itself can be stored
    # (ledger/write/written_keys.py): a first load looks up almost none.
    keys = [*latest, *deletions]
    written = ctx.written
    if written is not None and written.began_empty(lambda: has_lines(s, source, stream)):
        lookup = written.may_hold(keys)
        written.add(latest)
        staged_all = False  # (only the keys the filter may hold are staged)
    else:
        staged_all = has_lines(s, source, stream)
        lookup = keys if staged_all else []
    slim = stored_versions(s, source, stream, lookup) if lookup else {}
    # When every key was staged by that lookup, the open quarantine entries join them as they are.
    open_q = quarantine.open_entries(s, source, stream, keys, staged=staged_all)
    loaded: dict[str, datetime | None] = {}
    digests: dict[str, str] = {}
    valid: dict[str, ActualRecord] = {}
    invalid: dict[str, ActualRecord] = {}
    same: list[ActualRecord] = []  # settled unchanged, counted at the end
    get = slim.get
    for key, r in latest.items():
        v = get(key)
        if v is not None and v[SETTLED]:
            digest = content_hash(r)
            if v[HASH] == digest:
                same.append(r)
                # A retry or late page never goes back in time (nor resolves a newer hold);
                # `loaded` only resolves open entries, so only their keys need it.
                if key in open_q and not older_version(r.source_modified_at, changed_at(v)):
                    loaded[key] = r.source_modified_at
                continue
            digests[key] = digest
        problem = validate(r)
        if problem is None:
            valid[key] = r
        else:
            invalid[key] = r
            held.append(held_item(r.external_id, problem[0], problem[1], r))
            stats.count("quarantined", r.currency, r.amount)
    for key, r in list(valid.items()) if slim else ():
        v = get(key)
        if v is not None and older_version(r.source_modified_at, changed_at(v)):
            del valid[key]  # a retry or late page never goes back in time
            same.append(r)
            continue
    stats.unchanged += len(same)
    stats.count_records("unchanged", same)
    live_keys = {k for k, v in slim.items() if v[LIVE]}
    wanted = [*(k for k in valid if k in slim), *(k for k in invalid if k in live_keys)]
    wanted += [k for k in deletions if k in live_keys]
    existing = current_lines(s, source, stream, wanted)

    ctx.cover_dates({r.posted_on for r in valid.values()})
    ctx.cover_periods({r.period for r in valid.values() if r.period})
    for key, r in list(valid.items()):
        if ctx.period_of(r.posted_on, r.period) is None:
            del valid[key]
            invalid[key] = r
            what = f"period {r.period}" if r.period else f"a period for {r.posted_on}"
            cal = ctx.settings.calendar.name
            held.append(held_item(key, "unknown_period", f"calendar {cal} has no {what}", r))
            stats.count("quarantined", r.currency, r.amount)
    placements = resolve_projects(
        s,
        ctx.settings,
        source,
        {(r.project_ref_type, r.project_ref) for r in valid.values() if r.project_ref},
        now,
    )
    tasks = resolve_keys(s, source, "task", (r.task_ref for r in valid.values() if r.task_ref))
    resources = resolve_keys(
        s, source, "resource", (r.resource_ref for r in valid.values() if r.resource_ref)
    )
    book = RateBook.load(s, ctx.settings, {r.currency for r in valid.values() if r.currency})
    hours_only = [r for r in valid.values() if r.amount is None]
    valuation = CostRates(
        s,
        {resources[r.resource_ref] for r in hours_only if r.resource_ref in resources},
        {r.role for r in hours_only if r.role},
    )
    ctx.authority.load_scopes(s, {p.project_id for p in placements.values()})

    # PostgreSQL: the server inserts each chunk of new lines while this loop builds the next
    # (the loop uses no session; leaving the block waits for the last chunk).
    with writer.writing_ahead():
        for key, r in valid.items():
            old = existing.get(key)
            # A new key's hash is taken here, while the server writes the chunk before it.
            digest = digests.get(key) or content_hash(r)
            placement = (
                placements.get((r.project_ref_type, r.project_ref), UNMAPPED)
                if r.project_ref
                else UNMAPPED
            )
            live = old is not None and old["deleted_at"] is None
            if live and old is not None and old["content_hash"] == digest:
                if old["project_id"] == UNMAPPED_ID and placement.mapped:
                    # The same record, but its key now resolves: re-point the waiting line.
                    stats.entries += writer.add(
                        LineChange(
                            old["id"], old, repointed(old, placement, ctx.authority), "remap"
                        )
                    )
                    stats.written += 1
                    loaded[key] = r.source_modified_at
                    continue
                stats.unchanged += 1
                stats.count("unchanged", r.currency, r.amount)
                if old["project_id"] != UNMAPPED_ID:
                    loaded[key] = r.source_modified_at
                continue
            new = build_line(
                ctx,
                stream,
                r,
                digest,
                placement,
                tasks,
                resources,
                book,
                valuation,
                old if live else None,
            )
            if not in_range(new["base_amount"]) or not in_range(new["amount"]):
                held.append(
                    held_item(
                        key,
                        "amount_out_of_range",
                        f"base amount {new['base_amount']} is beyond +/-900,000,000,000,000",
                        r,
                    )
                )
                stats.count("quarantined", r.currency, r.amount)
                continue
            reason = "restate" if live else "insert"
            stats.entries += writer.add(LineChange(old["id"] if old else None, old, new, reason))
            stats.written += 1
            if live:
                stats.restated += 1
                stats.count("restated", new["currency"], new["amount"])
            else:
                stats.inserted += 1
                stats.count("inserted", new["currency"], new["amount"])
            if placement.mapped:
                loaded[key] = r.source_modified_at
            else:
                stats.parked += 1
                held.append(
                    held_item(
                        key,
                        "unmapped",
                        f"no project for {r.project_ref_type} {r.project_ref!r}"
                        if r.project_ref
                        else "the record names no project",
                        r,
                    )
                )
    for key in invalid:
        old = existing.get(key)
        if (
            old is not None
            and old["deleted_at"] is None
            and not older_version(invalid[key].source_modified_at, old["source_modified_at"])
        ):
            stats.entries += writer.add(
                LineChange(old["id"], old, _deleted(old, now, "superseded_invalid"), "delete")
            )
            stats.deleted += 1
            stats.count("deleted", old["currency"], old["amount"])
    gone: dict[str, datetime | None] = {}
    for key in dict.fromkeys(deletions):
        old = existing.get(key)
        gone[key] = None
        if old is not None and old["deleted_at"] is None:
            stats.entries += writer.add(
                LineChange(old["id"], old, _deleted(old, now, "deleted"), "delete")
            )
            stats.deleted += 1
            stats.count("deleted", old["currency"], old["amount"])
    stats.quarantined = len(held) - held_before
    quarantine.resolve(s, source, stream, loaded, "loaded", now, current=open_q)
    quarantine.resolve(s, source, stream, gone, "deleted", now, current=open_q)
    return stats


def _deleted(old: dict[str, Any], now: datetime, why: str) -> dict[str, Any]:
    new = {c: old[c] for c in LINE_COLUMNS}
    new["deleted_at"] = now
    new["deleted_reason"] = why
    return new


def build_line(
    ctx: WriteContext,
    stream: str,
    r: ActualRecord,
    digest: str,
    placement: Placement,
    tasks: dict[str, int],
    resources: dict[str, int],
    book: RateBook,
    valuation: CostRates,
    old: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The new version of a line (every LINE_COLUMNS value) for a valid record. `old` is the
    live version it replaces: in a closed period a line keeps the rate it was converted with."""
    resource_id = resources.get(r.resource_ref) if r.resource_ref else None
    period = ctx.period_of(r.posted_on, r.period)
    assert period is not None  # apply_actuals held the records without one
    amount, currency, valuation_rate = r.amount, r.currency, None
    if amount is None and r.hours is not None:
        priced = valuation.rate(resource_id, r.role, r.posted_on)
        if priced is not None:
            valuation_rate, currency = priced
            amount = round_money(r.hours * valuation_rate, currency)
    rate = rate_valid_from = fx_source = None
    stale = False
    base = None
    late = ctx.periods.is_closed(period)
    if r.base_amount is not None:
        base, fx_source = r.base_amount, "source"
    elif amount is not None and currency is not None:
        hit = book.lookup(currency, r.posted_on)
        kept = (
            old is not None
            and old["fx_source"] == "rate"
            and old["rate"] is not None
            and old["currency"] == currency
            and old["period"] == period
            and late
        )
        if kept:
            assert old is not None
            hit = RateHit(old["rate"], old["rate_valid_from"], "rate", old["stale_rate"])
        if hit is not None:
            rate, rate_valid_from, fx_source, stale = (
                hit.rate,
                hit.valid_from,
                hit.fx_source,
                hit.stale,
            )
            base = book.convert(amount, hit)
    task_id = tasks.get(r.task_ref) if r.task_ref else placement.task_id
    cost_type = placement.cost_type or r.cost_type
    auth = ctx.authority
    pid = placement.project_id
    return {
        "source": ctx.source,
        "stream": stream,
        "external_id": r.external_id,
        "project_id": pid,
        "task_id": task_id,
        "resource_id": resource_id,
        "project_ref_type": r.project_ref_type if r.project_ref else None,
        "project_ref": r.project_ref,
        "task_ref": r.task_ref,
        "resource_ref": r.resource_ref,
        "role": r.role,
        "kind": r.kind,
        "cost_type": cost_type,
        "period": period,
        "posted_on": r.posted_on,
        "currency": currency,
        "amount": amount,
        "rate": rate,
        "rate_valid_from": rate_valid_from,
        "fx_source": fx_source,
        "stale_rate": stale,
        "rate_outdated": bool(
            old and old["rate_outdated"] and fx_source == "rate" and rate == old["rate"]
        ),
        "base_amount": base,
        "hours": r.hours,
        "quantity": r.quantity,
        "uom": r.uom,
        "valuation_rate": valuation_rate,
        "counts_amount": auth.counts(ctx.source, auth.money_measure(r.kind, cost_type), pid),
        "counts_hours": r.hours is not None and auth.counts(ctx.source, "hours", pid),
        "late": late,
        "description": r.description,
        "source_modified_at": r.source_modified_at,
        "source_url": r.source_url,
        "content_hash": digest,
        "hash_version": HASH_VERSION,
        "deleted_at": None,
        "deleted_reason": None,
        "updated_at": ctx.recorded_at,
        "last_run_id": ctx.run_id,
    }
