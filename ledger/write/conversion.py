"""Re-valuing existing lines: FX rates that arrive or change (rule 7) and `rates apply` (rule 9).

Waiting lines (no base amount yet) get one `fx_convert` entry; lines in open periods whose
rate changed get one `fx_restate` entry (back to waiting, base NULL, when the rate now in force
cannot be held); lines in closed periods keep their rate and are flagged `rate_outdated`.
Lines whose source states the base amount are never touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.currencies import round_money
from pmo_ledger.ledger.fx.rates import RateBook
from pmo_ledger.ledger.models import ActualLine, BudgetLine, table_of
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.entries import LINE_COLUMNS, LineChange, LineWriter
from pmo_ledger.ledger.write.valuation import CostRates

_al = table_of(ActualLine)


def _candidates(session: Session, where: Any) -> Iterable[dict[str, Any]]:
    rows = session.execute(
        select(_al).where(_al.c.deleted_at.is_(None), _al.c.amount.is_not(None), where)
    ).mappings()
    for row in rows:
        yield dict(row)


def reconvert(
    ctx: WriteContext,
    writer: LineWriter,
    series: Iterable[tuple[str, str, str, str]],
    since: date | None = None,
) -> dict[str, int]:
    """Convert waiting lines and restate open-period lines after the rate `series`
    (source, rate_type, from, to) changed. Returns counts by outcome."""
    settings = ctx.settings
    changed = {s for s in series if s[0] in settings.rate_sources and s[1] == settings.rate_type}
    counts = {"fx_convert": 0, "fx_restate": 0, "rate_outdated": 0}
    if not changed:
        return counts
    currencies = {c for s in changed for c in s[2:]}
    base = settings.base_currency
    if settings.pivot_currency in currencies:
        currency_filter: Any = _al.c.currency != base  # a pivot leg can move every currency
    else:
        currency_filter = _al.c.currency.in_(currencies - {base})
    since_filter: Any = (
        or_(_al.c.base_amount.is_(None), _al.c.posted_on >= since) if since else True
    )
    where = and_(
        currency_filter,
        or_(_al.c.fx_source.is_(None), _al.c.fx_source == "rate"),
        since_filter,
    )
    lines = list(_candidates(ctx.session, where))
    book = RateBook.load(ctx.session, settings, {line["currency"] for line in lines})
    for old in lines:
        hit = book.lookup(old["currency"], old["posted_on"])
        if hit is None:
            _lost_rate(ctx, writer, old, counts)
            continue
        if hit.rate == old["rate"] and hit.stale == old["stale_rate"]:
            continue
        new = {c: old[c] for c in LINE_COLUMNS}
        if old["base_amount"] is not None and ctx.periods.is_closed(old["period"]):
            new["rate_outdated"] = True
            counts["rate_outdated"] += 1
            writer.add(LineChange(old["id"], old, new, "fx_restate"))
            continue
        reason = "fx_convert" if old["base_amount"] is None else "fx_restate"
        new.update(
            rate=hit.rate,
            rate_valid_from=hit.valid_from,
            fx_source=hit.fx_source,
            stale_rate=hit.stale,
            rate_outdated=False,
            base_amount=book.convert(old["amount"], hit),
        )
        counts[reason] += 1
        writer.add(LineChange(old["id"], old, new, reason))
    return counts


def _lost_rate(
    ctx: WriteContext, writer: LineWriter, old: dict[str, Any], counts: dict[str, int]
) -> None:
    """A converted line whose rate is gone: the rate now in force for it cannot be held (the
    inverse of a new USD->IRR 600,000) or was removed. Rule 7: a missing rate is never the old
    one. In an open period the line goes back to waiting (an `fx_restate` entry reversing its
    base amount; rate and base NULL, counted unconverted); in a closed one it keeps its rate
    and is flagged `rate_outdated`."""
    if old["base_amount"] is None:
        return  # waiting already
    new = {c: old[c] for c in LINE_COLUMNS}
    if ctx.periods.is_closed(old["period"]):
        if old["rate_outdated"]:
            return
        new["rate_outdated"] = True
        counts["rate_outdated"] += 1
    else:
        new.update(
            rate=None,
            rate_valid_from=None,
            fx_source=None,
            stale_rate=False,
            rate_outdated=False,
            base_amount=None,
        )
        counts["fx_restate"] += 1
    writer.add(LineChange(old["id"], old, new, "fx_restate"))


def reconvert_budget_lines(
    ctx: WriteContext, series: Iterable[tuple[str, str, str, str]], since: date | None = None
) -> dict[str, int]:
    """The same as `reconvert` for budget lines (rate of the line's period's last day):
    `fx_convert` for waiting lines, `fx_restate` in open periods, closed periods kept."""
    from pmo_ledger.ledger.write.budget_history import LINE_COLUMNS as BUDGET_LINE_COLUMNS
    from pmo_ledger.ledger.write.budget_history import BudgetLineBatch

    settings = ctx.settings
    changed = {s for s in series if s[0] in settings.rate_sources and s[1] == settings.rate_type}
    counts = {"fx_convert": 0, "fx_restate": 0}
    if not changed:
        return counts
    currencies = {c for s in changed for c in s[2:]}
    bl = table_of(BudgetLine)
    where: Any = bl.c.currency != settings.base_currency
    if settings.pivot_currency not in currencies:
        where = and_(where, bl.c.currency.in_(currencies))
    rows = [
        dict(r)
        for r in ctx.session.execute(select(bl).where(bl.c.deleted_at.is_(None), where)).mappings()
    ]
    book = RateBook.load(ctx.session, settings, {r["currency"] for r in rows})
    batch = BudgetLineBatch(ctx)
    for old in rows:
        if ctx.periods.is_closed(old["period"]) and old["base_amount"] is not None:
            continue
        day = ctx.periods.bounds(old["period"])[1]
        if since is not None and day < since and old["base_amount"] is not None:
            continue
        hit = book.lookup(old["currency"], day)
        if hit is None or hit.rate == old["rate"]:
            continue
        reason = "fx_convert" if old["base_amount"] is None else "fx_restate"
        new = {c: old[c] for c in BUDGET_LINE_COLUMNS}
        new.update(
            rate=hit.rate, base_amount=book.convert(old["amount"], hit), updated_at=ctx.recorded_at
        )
        batch.change(old, new, reason)
        counts[reason] += 1
    batch.flush()
    return counts


def revalue_hours(ctx: WriteContext, writer: LineWriter, since: date) -> int:
    """`rates apply --from DATE`: re-value hours-only lines worked on or after `since` with the
    resource or role rate now in force on their work date. Returns lines restated."""
    valued_or_waiting = or_(
        _al.c.valuation_rate.is_not(None), and_(_al.c.amount.is_(None), _al.c.hours.is_not(None))
    )
    lines = [
        dict(r)
        for r in ctx.session.execute(
            select(_al).where(
                _al.c.deleted_at.is_(None), valued_or_waiting, _al.c.posted_on >= since
            )
        ).mappings()
    ]
    valuation = CostRates(
        ctx.session,
        {line["resource_id"] for line in lines if line["resource_id"] is not None},
        {line["role"] for line in lines if line["role"]},
    )
    book = RateBook.load(ctx.session, ctx.settings, {x["currency"] for x in lines if x["currency"]})
    restated = 0
    for old in lines:
        priced = valuation.rate(old["resource_id"], old["role"], old["posted_on"])
        if priced is None or (priced[0] == old["valuation_rate"] and priced[1] == old["currency"]):
            continue
        rate, currency = priced
        new = {c: old[c] for c in LINE_COLUMNS}
        new.update(
            valuation_rate=rate,
            currency=currency,
            amount=round_money(old["hours"] * rate, currency),
        )
        hit = book.lookup(currency, old["posted_on"])
        new.update(
            rate=hit.rate if hit else None,
            rate_valid_from=hit.valid_from if hit else None,
            fx_source=hit.fx_source if hit else None,
            stale_rate=hit.stale if hit else False,
            base_amount=book.convert(new["amount"], hit) if hit else None,
        )
        writer.add(LineChange(old["id"], old, new, "restate"))
        restated += 1
    return restated
