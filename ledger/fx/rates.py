"""FX rates (rule 7): stored as stated, forward-filled daily, looked up direct, inverse or via
a pivot currency, and applied to waiting lines when they arrive.

Conversion of one line is done in Python (rule 6: `base_amount = amount x rate` rounded to the
base currency's minor unit, ROUND_HALF_UP, per line). The rate a line uses is quantized to the
8 places the ledger stores, and the base amount is computed from that stored rate, so anybody
can recompute a line's base amount from the line alone. A rate 8 places cannot hold
(ledger.fx.checks: an inverse of 1e-10 would be 0) is never used: the lookup goes on to the
next way, and a line with none waits unconverted.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import structlog
from sqlalchemy import and_, delete, insert, or_, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.currencies import round_money
from pmo_ledger.ledger.fx.checks import RATE_Q, held_rate, rate_day_problem
from pmo_ledger.ledger.models import FxRate, FxRateDaily, table_of
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.upsert import upsert

log = structlog.get_logger(__name__)

ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class RateHit:
    """The rate to convert 1 unit of a currency into the base currency on a day."""

    rate: Decimal
    valid_from: date | None  # None for the identity (base currency)
    fx_source: str  # identity | rate
    stale: bool


class RateBook:
    """Rates of `[ledger] rate_type` from the configured sources, for in-memory lookups.

    Load it once per batch with the currencies the batch needs; lookups bisect the sorted
    valid_from dates, which is exactly what the forward-filled `fx_rate_daily` holds.
    """

    def __init__(
        self, settings: LedgerSettings, rows: Iterable[tuple[str, str, str, date, Decimal]]
    ):
        self.settings = settings
        self.base = settings.base_currency
        #: Answers by (currency, day): a batch asks once per line, for few distinct pairs.
        self._hits: dict[tuple[str, date], RateHit | None] = {}
        self._series: dict[tuple[str, str, str], tuple[list[date], list[Decimal]]] = {}
        grouped: dict[tuple[str, str, str], list[tuple[date, Decimal]]] = defaultdict(list)
        for source, from_ccy, to_ccy, valid_from, rate in rows:
            grouped[(source, from_ccy, to_ccy)].append((valid_from, rate))
        for key, points in grouped.items():
            points.sort()
            self._series[key] = ([p[0] for p in points], [p[1] for p in points])

    @classmethod
    def load(
        cls, session: Session, settings: LedgerSettings, currencies: Iterable[str]
    ) -> RateBook:
        """Rates touching `currencies`, the base and the pivot currency, from rate_sources."""
        wanted = set(currencies) | {settings.base_currency}
        if settings.pivot_currency:
            wanted.add(settings.pivot_currency)
        rows = session.execute(
            select(
                FxRate.source, FxRate.from_ccy, FxRate.to_ccy, FxRate.valid_from, FxRate.rate
            ).where(
                FxRate.rate_type == settings.rate_type,
                FxRate.source.in_(settings.rate_sources),
                or_(FxRate.from_ccy.in_(wanted), FxRate.to_ccy.in_(wanted)),
            )
        ).all()
        return cls(settings, [tuple(r) for r in rows])

    def _point(self, source: str, a: str, b: str, day: date) -> tuple[Decimal, date] | None:
        series = self._series.get((source, a, b))
        if series is None:
            return None
        i = bisect.bisect_right(series[0], day) - 1
        return None if i < 0 else (series[1][i], series[0][i])

    def _leg(self, source: str, a: str, b: str, day: date) -> tuple[Decimal, date] | None:
        """a -> b on `day`: the direct rate, else the inverse of b -> a (a stored 0 is none)."""
        direct = self._point(source, a, b, day)
        if direct is not None and direct[0] > 0:
            return direct
        inverse = self._point(source, b, a, day)
        if inverse is not None and inverse[0] > 0:
            return (ONE / inverse[0], inverse[1])
        return None

    def _ways(self, source: str, currency: str, day: date) -> Iterator[tuple[Decimal, date]]:
        """The rates of `source` for `currency` -> base on `day`: direct or inverse, then
        through the pivot currency."""
        hit = self._leg(source, currency, self.base, day)
        if hit is not None:
            yield hit
        pivot = self.settings.pivot_currency
        if pivot and currency != pivot and self.base != pivot:
            first = self._leg(source, currency, pivot, day)
            second = self._leg(source, pivot, self.base, day)
            if first and second:
                yield (first[0] * second[0], min(first[1], second[1]))

    def lookup(self, currency: str, day: date) -> RateHit | None:
        """The rate for `currency` -> base on `day`, or None (a missing rate is never 1, and a
        rate 8 places cannot hold is missing, never 0)."""
        key = (currency, day)
        if key in self._hits:
            return self._hits[key]
        hit = self._find(currency, day)
        self._hits[key] = hit
        return hit

    def _find(self, currency: str, day: date) -> RateHit | None:
        if currency == self.base:
            return RateHit(ONE, None, "identity", False)
        for source in self.settings.rate_sources:
            for value, valid_from in self._ways(source, currency, day):
                rate = held_rate(value)
                if rate is not None:
                    stale = day - valid_from > self.settings.max_rate_age
                    return RateHit(rate, valid_from, "rate", stale)
        return None

    def convert(self, amount: Decimal, hit: RateHit) -> Decimal:
        """`amount` in the base currency, rounded to its minor unit, ROUND_HALF_UP."""
        return round_money(amount * hit.rate, self.base)


# --- storing rates ---------------------------------------------------------------------------


def upsert_rates(
    session: Session,
    source: str,
    rates: Iterable[tuple[str, str, str, date, Decimal]],
    now: datetime,
) -> set[tuple[str, str, str, str]]:
    """Store (rate_type, from, to, valid_from, rate) rows of `source`; returns the
    (source, rate_type, from, to) series that changed (new or different rate)."""
    incoming = {(t, f, to, d): r for t, f, to, d, r in rates}
    if not incoming:
        return set()
    existing = {
        (r.rate_type, r.from_ccy, r.to_ccy, r.valid_from): r.rate
        for r in session.execute(
            select(FxRate.rate_type, FxRate.from_ccy, FxRate.to_ccy, FxRate.valid_from, FxRate.rate)
            .where(FxRate.source == source)
            .where(FxRate.from_ccy.in_({k[1] for k in incoming}))
        )
    }
    changed = {
        k: r
        for k, r in incoming.items()
        if existing.get(k) != r.quantize(RATE_Q, rounding=ROUND_HALF_UP)  # as stored
    }
    upsert(
        session,
        table_of(FxRate),
        [
            {
                "source": source,
                "rate_type": t,
                "from_ccy": f,
                "to_ccy": to,
                "valid_from": d,
                "rate": r,
                "recorded_at": now,
                "updated_at": now,
            }
            for (t, f, to, d), r in changed.items()
        ],
        ["source", "rate_type", "from_ccy", "to_ccy", "valid_from"],
        update=["rate", "updated_at"],
    )
    since: dict[tuple[str, str, str, str], date] = {}
    for t, f, to, d in changed:
        key = (source, t, f, to)
        since[key] = min(d, since.get(key, d))
    rebuild_daily(session, since, today=now.date())
    return set(since)


def rebuild_daily(
    session: Session,
    series: Mapping[tuple[str, str, str, str], date | None] | Iterable[tuple[str, str, str, str]],
    *,
    today: date,
) -> int:
    """Re-derive fx_rate_daily for each (source, rate_type, from, to): one row per day from the
    first valid_from through the end of the year after max(today, last valid_from). With a
    mapping series -> date, only the days from that date on are re-derived (a new rate never
    changes the days before it)."""
    since_of = dict(series) if isinstance(series, Mapping) else dict.fromkeys(series)
    written = 0
    for (source, rate_type, from_ccy, to_ccy), since in sorted(since_of.items()):
        key = and_(
            FxRateDaily.source == source,
            FxRateDaily.rate_type == rate_type,
            FxRateDaily.from_ccy == from_ccy,
            FxRateDaily.to_ccy == to_ccy,
        )
        points = session.execute(
            select(FxRate.valid_from, FxRate.rate)
            .where(
                FxRate.source == source,
                FxRate.rate_type == rate_type,
                FxRate.from_ccy == from_ccy,
                FxRate.to_ccy == to_ccy,
            )
            .order_by(FxRate.valid_from)
        ).all()
        points = _in_range(points, (source, rate_type, from_ccy, to_ccy), today)
        start = since if since is not None and points and since > points[0][0] else None
        session.execute(
            delete(FxRateDaily).where(key, FxRateDaily.day >= start)
            if start
            else delete(FxRateDaily).where(key)
        )
        if not points:
            continue
        end = date(max(today, points[-1][0]).year + 1, 12, 31)
        rows = []
        for i, (valid_from, rate) in enumerate(points):
            stop = points[i + 1][0] if i + 1 < len(points) else end + timedelta(days=1)
            if start is not None and stop <= start:
                continue  # days before `start` are kept as they are
            day = max(valid_from, start) if start is not None else valid_from
            while day < stop:
                rows.append(
                    {
                        "source": source,
                        "rate_type": rate_type,
                        "from_ccy": from_ccy,
                        "to_ccy": to_ccy,
                        "day": day,
                        "rate": rate,
                        "valid_from": valid_from,
                    }
                )
                day += timedelta(days=1)
        if rows:
            session.execute(insert(FxRateDaily), rows)
        written += len(rows)
    return written


def _in_range(points: Sequence[Any], series: tuple[str, str, str, str], today: date) -> list[Any]:
    """The (valid_from, rate) points a daily table can hold: a rate stored before its date was
    checked (year 1, year 9999) would write a row per day for millennia, or crash on the year
    after 9999: it is left out of fx_rate_daily and logged."""
    kept = [p for p in points if rate_day_problem(p[0], today) is None]
    if len(kept) < len(points):
        log.warning(
            "fx_rate_daily_skipped",
            series="/".join(series),
            valid_from=[p[0].isoformat() for p in points if p not in kept],
        )
    return kept
