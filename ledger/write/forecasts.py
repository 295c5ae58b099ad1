"""Revenue forecasts (rule 11): opportunities go to revenue_forecast, never to actual_line.

weighted_amount = amount x probability / 100, rounded to the currency's minor unit
ROUND_HALF_UP (an opportunity without a probability weighs 0: nothing is known about it).
base_amount and base_weighted_amount each convert the stated amount with the rate of the
close date (else the batch's date), rounded per row like every base amount (rule 6), so
either can be recomputed from the row alone. A forecast counts only where its source is the
`revenue` authority of its project, never under UNMAPPED.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table

from pmo_ledger.ledger.currencies import is_currency, round_money
from pmo_ledger.ledger.fx.rates import RateBook
from pmo_ledger.ledger.models import RevenueForecast, table_of
from pmo_ledger.ledger.records import RevenueForecastRecord, older_version
from pmo_ledger.ledger.resolve import UNMAPPED, resolve_projects
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.hashing import content_hash
from pmo_ledger.ledger.write.keyed_rows import HUNDRED, RATE_Q, number_problem, q
from pmo_ledger.ledger.write.record_writer import RecordWriter, Row

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


class ForecastWriter(RecordWriter[RevenueForecastRecord]):
    """Upsert opportunities by (source, stream, external_id); deletions set deleted_at.

    Held: validation reasons (not loaded) and 'unmapped' (loaded under UNMAPPED, not
    counting). An older version than the stored one (by source_modified_at) is skipped.
    """

    record_type = RevenueForecastRecord
    table = _forecast
    conflict = ("source", "stream", "external_id")
    update = _UPDATE
    by_stream = True

    def validate(self, record: RevenueForecastRecord) -> tuple[str, str] | None:
        return validate_forecast(record)

    def resolve(self, valid: Mapping[str, RevenueForecastRecord]) -> None:
        ctx, s = self.ctx, self.ctx.session
        self.placements = resolve_projects(
            s,
            ctx.settings,
            ctx.source,
            {(r.project_ref_type, r.project_ref) for r in valid.values() if r.project_ref},
            ctx.recorded_at,
        )
        ctx.authority.load_scopes(s, {p.project_id for p in self.placements.values()})
        self.book = RateBook.load(s, ctx.settings, {r.currency for r in valid.values()})

    def row(
        self, key: str, record: RevenueForecastRecord, old: Row | None
    ) -> dict[str, Any] | None:
        r = record
        if old is not None and older_version(r.source_modified_at, old["source_modified_at"]):
            self.stats.unchanged += 1  # a retry or a late page never goes back in time
            return None
        placement = (
            self.placements.get((r.project_ref_type, r.project_ref), UNMAPPED)
            if r.project_ref
            else UNMAPPED
        )
        if not placement.mapped:
            detail = (
                f"no project for {r.project_ref_type} {r.project_ref!r}"
                if r.project_ref
                else "the opportunity names no project"
            )
            self.hold(key, "unmapped", detail, r)
        return _row(self.ctx, self.book, r, placement.project_id)


apply_forecasts = ForecastWriter.apply


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
