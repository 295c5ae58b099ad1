"""Revenue forecasts (rule 11): opportunities go to revenue_forecast, never to actual_line.

weighted_amount = amount x probability / 100, rounded to the currency's minor unit
ROUND_HALF_UP (an opportunity without a probability weighs 0: nothing is known about it).
base_amount and base_weighted_amount each convert the stated amount with the rate of the
close date (else the batch's date), rounded per row like every base amount (rule 6), so
either can be recomputed from the row alone. A forecast counts only where its source is the
`revenue` authority of its project, never under UNMAPPED.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table

from pmo_ledger.ledger import quarantine
from pmo_ledger.ledger.currencies import is_currency, round_money
from pmo_ledger.ledger.fx import RateBook
from pmo_ledger.ledger.models import RevenueForecast, table_of
from pmo_ledger.ledger.records import RevenueForecastRecord, older_version
from pmo_ledger.ledger.resolve import UNMAPPED, resolve_projects
from pmo_ledger.ledger.upsert import upsert
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.hashing import content_hash
from pmo_ledger.ledger.write.keyed_rows import (
    HUNDRED,
    RATE_Q,
    differs,
    latest_by_key,
    number_problem,
    q,
    soft_delete,
    stored_rows,
)
from pmo_ledger.ledger.write.keyed_rows import held as held_item
from pmo_ledger.ledger.write.stats import ApplyStats

_forecast: Table = table_of(RevenueForecast)
_UPDATE = (
    "project_id",
    "project_ref",
    "name",
    "stage",
    "probability",
    "close_date",
    "currency",
    "amount",
    "weighted_amount",
    "rate",
    "base_amount",
    "base_weighted_amount",
    "counts",
    "source_modified_at",
    "source_url",
    "content_hash",
    "deleted_at",
    "updated_at",
)


def validate_forecast(r: RevenueForecastRecord) -> tuple[str, str] | None:
    """(reason, detail) when an opportunity cannot be loaded, else None."""
    if not r.external_id:
        return "missing_key", "the record has no external id"
    if r.amount is None:
        return "missing_amount", "the opportunity has no amount"
    problem = number_problem("amount", r.amount)
    if problem is not None:
        return problem
    if not is_currency(r.currency):
        if not r.currency:
            return "missing_currency", f"amount {r.amount} has no currency"
        return "unknown_currency", f"unknown currency {r.currency!r}"
    p = r.probability
    if p is not None and (not isinstance(p, Decimal) or not p.is_finite() or not 0 <= p <= HUNDRED):
        return "bad_probability", f"probability must be 0..100, got {p!r}"
    if r.close_date is not None and (
        not isinstance(r.close_date, date) or isinstance(r.close_date, datetime)
    ):
        return "bad_date", f"close_date is not a date: {r.close_date!r}"
    return None


def weighted(amount: Decimal, probability: Decimal | None, currency: str) -> Decimal:
    """amount x probability / 100 in the currency's minor unit, ROUND_HALF_UP (0 without a
    probability)."""
    if probability is None:
        return round_money(Decimal(0), currency)
    return round_money(amount * probability / HUNDRED, currency)


def apply_forecasts(
    ctx: WriteContext,
    stream: str,
    records: Sequence[RevenueForecastRecord],
    deletions: Sequence[str] = (),
    *,
    held: list[quarantine.Held],
) -> ApplyStats:
    """Upsert opportunities by (source, stream, external_id); deletions set deleted_at.

    Held: validation reasons (not loaded) and 'unmapped' (loaded under UNMAPPED, not
    counting). An older version than the stored one (by source_modified_at) is skipped.
    """
    s, source, now = ctx.session, ctx.source, ctx.recorded_at
    stats = ApplyStats(read=len(records))
    valid: dict[str, RevenueForecastRecord] = {}
    for key, r in latest_by_key(records).items():
        problem = validate_forecast(r)
        if problem is None:
            valid[key] = r
        else:
            held.append(held_item(key, *problem, r))
    placements = resolve_projects(
        s,
        ctx.settings,
        source,
        {(r.project_ref_type, r.project_ref) for r in valid.values() if r.project_ref},
        now,
    )
    ctx.authority.load_scopes(s, {p.project_id for p in placements.values()})
    book = RateBook.load(s, ctx.settings, {r.currency for r in valid.values()})
    here = (_forecast.c.source == source, _forecast.c.stream == stream)
    existing = stored_rows(s, _forecast, "external_id", valid, *here)
    rows: list[dict[str, Any]] = []
    loaded: dict[str, datetime | None] = {}
    for key, r in valid.items():
        old = existing.get(key)
        if old is not None and older_version(r.source_modified_at, old["source_modified_at"]):
            stats.unchanged += 1  # a retry or a late page never goes back in time
            continue
        placement = (
            placements.get((r.project_ref_type, r.project_ref), UNMAPPED)
            if r.project_ref
            else UNMAPPED
        )
        if placement.mapped:
            loaded[key] = r.source_modified_at
        else:
            detail = (
                f"no project for {r.project_ref_type} {r.project_ref!r}"
                if r.project_ref
                else "the opportunity names no project"
            )
            held.append(held_item(key, "unmapped", detail, r))
        row = _row(ctx, book, r, placement.project_id)
        if old is not None and not differs(old, row):
            stats.unchanged += 1
            continue
        rows.append(
            {**row, "source": source, "stream": stream, "created_at": now, "updated_at": now}
        )
    upsert(s, _forecast, rows, ["source", "stream", "external_id"], update=_UPDATE)
    stats.written = len(rows)
    stats.deleted = soft_delete(s, _forecast, "external_id", deletions, now, *here)
    quarantine.resolve(s, source, stream, loaded, "loaded", now)
    quarantine.resolve(s, source, stream, dict.fromkeys(deletions), "deleted", now)
    return stats


def _row(
    ctx: WriteContext, book: RateBook, r: RevenueForecastRecord, project_id: int
) -> dict[str, Any]:
    """The compared columns of an opportunity's new state (keys and timestamps aside)."""
    amount = q(r.amount)
    assert amount is not None
    weighted_amount = weighted(amount, r.probability, r.currency)
    hit = book.lookup(r.currency, r.close_date or ctx.recorded_at.date())
    return {
        "external_id": r.external_id,
        "project_id": project_id,
        "project_ref": r.project_ref,
        "name": r.name,
        "stage": r.stage,
        "probability": q(r.probability),
        "close_date": r.close_date,
        "currency": r.currency,
        "amount": amount,
        "weighted_amount": weighted_amount,
        "rate": q(hit.rate, RATE_Q) if hit else None,
        "base_amount": book.convert(amount, hit) if hit else None,
        "base_weighted_amount": book.convert(weighted_amount, hit) if hit else None,
        "counts": ctx.authority.counts(ctx.source, "revenue", project_id),
        "source_modified_at": r.source_modified_at,
        "source_url": r.source_url,
        "content_hash": content_hash(r),
        "deleted_at": None,
    }
