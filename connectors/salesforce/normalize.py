"""Salesforce rows -> ledger records: pure functions, one per stream, tested from small rows.

Each takes a row (REST JSON or Bulk 2.0 CSV, see `values`) and a `RowContext` (the stream's
field roles resolved against its settings, the org's currencies, the calendar) and returns a
record, a list of records, `None` (the row does not count: the source state that makes it a
deletion) or raises ValueError, which the reader turns into a `Rejected` row.

Invalid values the ledger itself judges on actual lines (no amount, an unknown currency, no
project) are passed through (an opportunity without an amount cannot be a record: it is a
rejected row): the writer quarantines them with its own reasons, or loads them under UNMAPPED, so
per-source totals keep matching the source (rule 5).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pmo_ledger.connectors.salesforce import values as v
from pmo_ledger.ledger.records import (
    ActualRecord,
    AllocationRecord,
    FxRateRecord,
    ProjectRecord,
    Record,
    ResourceRateRecord,
    ResourceRecord,
    RevenueForecastRecord,
)
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import PeriodSpec, periods_overlapping

Row = v.Row


@dataclass(frozen=True)
class RowContext:
    """What normalizing one stream's rows needs besides the row."""

    sobject: str
    fields: Mapping[str, str | None]  # role -> field path (None: not read)
    instance_url: str
    currency: str | None = None  # single-currency org: every amount is in it
    corporate_currency: str = "USD"
    rate_type: str = "corporate"
    rates_from: date = date(2000, 1, 1)
    calendar: CalendarSettings = field(default_factory=CalendarSettings)

    def f(self, role: str) -> str | None:
        return self.fields.get(role)

    def url(self, record_id: str) -> str:
        """The record's page in Lightning Experience."""
        return f"{self.instance_url}/lightning/r/{self.sobject}/{record_id}/view"

    def currency_of(self, row: Row) -> str | None:
        return v.text(row, self.f("currency")) if self.currency is None else self.currency


def record_id(row: Row) -> str:
    value = v.text(row, "Id")
    if not value:
        raise ValueError("the row has no Id")
    return value


def project(row: Row, ctx: RowContext) -> ProjectRecord:
    """pse__Proj__c -> a project; region and practice as portfolio and program."""
    rid = record_id(row)
    name = v.text(row, ctx.f("name")) or rid
    portfolio = v.text(row, ctx.f("portfolio"))
    program = v.text(row, ctx.f("program"))
    return ProjectRecord(
        external_id=rid,
        code=v.text(row, ctx.f("code")) or name,
        name=name,
        portfolio=portfolio,
        portfolio_name=portfolio,
        program=program,
        program_name=program,
        status=v.text(row, ctx.f("status")),
        currency=ctx.currency_of(row),
        manager=v.text(row, ctx.f("manager")),
        planned_start=v.day(row, ctx.f("start")),
        planned_finish=v.day(row, ctx.f("finish")),
        percent_complete=v.number(row, ctx.f("percent_complete")),
        source_url=ctx.url(rid),
        source_modified_at=v.stamp(row, "SystemModstamp"),
    )


def resource(row: Row, ctx: RowContext) -> ResourceRecord:
    """Contact with pse__Is_Resource__c -> a resource."""
    rid = record_id(row)
    active = v.flag(row, ctx.f("active"))
    return ResourceRecord(
        external_id=rid,
        name=v.text(row, ctx.f("name")) or rid,
        email=v.text(row, ctx.f("email")),
        role=v.text(row, ctx.f("role")),
        department=v.text(row, ctx.f("department")),
        active=True if active is None else active,
        source_modified_at=v.stamp(row, "SystemModstamp"),
    )


def resource_rate(row: Row, ctx: RowContext) -> ResourceRateRecord | None:
    """A resource's cost rate per hour, in force from the resource's start date (or
    `rates_from`). A resource with no rate has none (None: a deletion of its rate)."""
    rate = v.number(row, ctx.f("cost_rate"), v.RATE_PLACES)
    if rate is None:
        return None
    return ResourceRateRecord(
        external_id=record_id(row),
        resource_ref=record_id(row),
        effective_from=v.day(row, ctx.f("start")) or ctx.rates_from,
        cost_rate=rate,
        currency=ctx.currency_of(row) or "",
        source_modified_at=v.stamp(row, "SystemModstamp"),
    )


def _counts(row: Row, ctx: RowContext) -> bool:
    """Whether the row counts as an actual (pse__Include_In_Financials__c by default)."""
    path = ctx.f("counts")
    return path is None or v.flag(row, path) is True


def _actual(row: Row, ctx: RowContext, cost_type: str, description: str | None) -> ActualRecord:
    rid = record_id(row)
    posted = v.day(row, ctx.f("date"))
    if posted is None:
        raise ValueError(f"{ctx.f('date')} is empty: the line has no date")
    return ActualRecord(
        external_id=rid,
        project_ref=v.text(row, ctx.f("project")),
        posted_on=posted,
        kind="cost",
        cost_type=cost_type,
        resource_ref=v.text(row, ctx.f("resource")),
        currency=ctx.currency_of(row),
        amount=v.number(row, ctx.f("amount")),
        hours=v.number(row, ctx.f("hours")),
        description=description,
        source_url=ctx.url(rid),
        source_modified_at=v.stamp(row, "SystemModstamp"),
    )


def timecard(row: Row, ctx: RowContext) -> ActualRecord | None:
    """A timecard split (or header) -> a labor line with hours and cost; only rows
    included in financials count."""
    if not _counts(row, ctx):
        return None
    return _actual(row, ctx, "labor", v.text(row, ctx.f("description")))


def expense(row: Row, ctx: RowContext) -> ActualRecord | None:
    """An expense -> an expense line ('<type>: <description>'); only rows included in
    financials count."""
    if not _counts(row, ctx):
        return None
    kind, text = v.text(row, ctx.f("type")), v.text(row, ctx.f("description"))
    described = ": ".join(p for p in (kind, text) if p) or None
    return _actual(row, ctx, "expense", described[:500] if described else None)


def opportunity(row: Row, ctx: RowContext, project_ref: str | None) -> RevenueForecastRecord:
    """An opportunity -> a revenue forecast of the project that references it."""
    rid = record_id(row)
    amount = v.number(row, ctx.f("amount"))
    if amount is None:
        raise ValueError(f"{ctx.f('amount')} is empty: an opportunity needs an amount")
    return RevenueForecastRecord(
        external_id=rid,
        project_ref=project_ref,
        name=v.text(row, ctx.f("name")) or rid,
        amount=amount,
        currency=ctx.currency_of(row) or "",
        stage=v.text(row, ctx.f("stage")),
        probability=v.number(row, ctx.f("probability")),
        close_date=v.day(row, ctx.f("close_date")),
        source_url=ctx.url(rid),
        source_modified_at=v.stamp(row, "SystemModstamp"),
    )


def _working_days(start: date, end: date) -> int:
    days = (end - start).days + 1
    weeks, rest = divmod(days, 7)
    extra = sum(1 for i in range(rest) if (start + timedelta(days=i)).weekday() < 5)
    return weeks * 5 + extra


def allocation(row: Row, ctx: RowContext) -> list[AllocationRecord]:
    """An assignment's scheduled hours spread over the fiscal periods it spans, by working
    days, rounded to 2 places with the remainder in the last period."""
    rid = record_id(row)
    start, end = v.day(row, ctx.f("start")), v.day(row, ctx.f("end"))
    hours = v.number(row, ctx.f("hours"))
    if start is None or end is None or hours is None:
        raise ValueError("an assignment needs start and end dates and scheduled hours")
    if end < start:
        raise ValueError(f"the assignment ends ({end}) before it starts ({start})")
    spans: list[tuple[PeriodSpec, int]] = []
    for p in periods_overlapping(ctx.calendar, start, end):
        if p.special or p.end_on < start or p.start_on > end:
            continue
        spans.append((p, _working_days(max(start, p.start_on), min(end, p.end_on))))
    total_days = sum(d for _, d in spans) or 1
    out: list[AllocationRecord] = []
    left = hours
    for i, (p, days) in enumerate(spans):
        share = (
            left
            if i == len(spans) - 1
            else (hours * days / total_days).quantize(Decimal("0.01"), ROUND_HALF_UP)
        )
        left -= share
        out.append(
            AllocationRecord(
                external_id=rid,
                project_ref=v.text(row, ctx.f("project")) or "",
                period=p.key,
                planned_hours=share,
                resource_ref=v.text(row, ctx.f("resource")),
                source_modified_at=v.stamp(row, "SystemModstamp"),
            )
        )
    return out


def dated_rate(row: Row, ctx: RowContext) -> FxRateRecord | None:
    """DatedConversionRate: 1 corporate currency = ConversionRate IsoCode from StartDate
    (the first range starts in year 1: clamped to `rates_from`)."""
    iso = v.text(row, ctx.f("currency"))
    rate = v.number(row, ctx.f("rate"), v.RATE_PLACES)
    start = v.day(row, ctx.f("start"))
    if iso is None or rate is None or start is None or iso == ctx.corporate_currency:
        return None
    return FxRateRecord(
        from_ccy=ctx.corporate_currency,
        to_ccy=iso,
        valid_from=max(start, ctx.rates_from),
        rate=rate,
        rate_type=ctx.rate_type,
        source_modified_at=v.stamp(row, "SystemModstamp"),
    )


def static_rate(row: Row, ctx: RowContext) -> FxRateRecord | None:
    """CurrencyType: the org's static rate of an active currency, from `rates_from`."""
    iso = v.text(row, ctx.f("currency"))
    rate = v.number(row, ctx.f("rate"), v.RATE_PLACES)
    if iso is None or rate is None or iso == ctx.corporate_currency:
        return None
    if v.flag(row, ctx.f("active")) is False:
        return None
    return FxRateRecord(
        from_ccy=ctx.corporate_currency,
        to_ccy=iso,
        valid_from=ctx.rates_from,
        rate=rate,
        rate_type=ctx.rate_type,
        source_modified_at=v.stamp(row, "SystemModstamp"),
    )


Normalizer = Callable[[Row, RowContext], "Record | list[Any] | None"]
