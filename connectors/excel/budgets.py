"""The Budgets sheet: rows -> budget versions with their lines.

Rows with the same Project and Version make one version (`BudgetRecord`, `derived`: built
from a full read of its rows), keyed `<file stem>/<project>/<version>`; each row is a line
keyed by its natural key, `<version key>/<cost type>[/<task>]/<period>`, never by its row
number, so sorting or inserting rows changes nothing. A row with a date range (From, To)
instead of a Period is spread evenly over the fiscal periods the range touches (each share
rounded to the currency's minor unit, ROUND_HALF_UP, the remainder in the last period),
its lines keyed `<version key>/<cost type>[/<task>]/<from>..<to>@<period>`.

A version with any bad cell or a duplicate key is rejected whole with every problem (file,
sheet, cell); `read` then refuses the whole file (a file loads whole or not at all).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision, list_currencies

from pmo_ledger.connectors.excel import cells
from pmo_ledger.connectors.excel.columns import (
    BUDGET_COLUMNS,
    Fields,
    SheetRead,
    open_sheet,
)
from pmo_ledger.connectors.excel.settings import BUDGET_KINDS, ExcelSettings
from pmo_ledger.connectors.excel.workbook import Workbook
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import periods_overlapping

_HOURS_Q = Decimal("0.0001")


@dataclass
class _Version:
    """The rows of one version as they are read."""

    project: str
    label: str
    lines: list[BudgetLineRecord] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # line key -> first row
    problems: list[tuple[str, str]] = field(default_factory=list)
    kind: str | None = None
    number: int | None = None
    effective_from: date | None = None
    starts: list[date] = field(default_factory=list)


def read_budgets(book: Workbook, settings: ExcelSettings, calendar: CalendarSettings) -> SheetRead:
    """The budget versions of `book`'s Budgets sheet (none when it has no such sheet)."""
    opened = open_sheet(book, settings.budgets_sheet, BUDGET_COLUMNS)
    if isinstance(opened, SheetRead):
        return opened
    sheet, found = opened
    read = SheetRead()
    versions: dict[tuple[str, str], _Version] = {}
    modified = datetime.fromtimestamp(book.path.stat().st_mtime, UTC)
    for row in sheet.rows:
        f = Fields(book, row, found)
        project = f.get("project", cells.text, required=True)
        label = f.get("version", cells.text, required=True)
        if project is None or label is None:
            read.reject(book, f"{book.stem}/{sheet.name}/row {row.number}", f.problems, sheet.name)
            continue
        v = versions.setdefault((project, label), _Version(project, label))
        _row(f, v, book, settings, calendar)
    for (project, label), v in versions.items():
        key = f"{book.stem}/{project}/{label}"
        if v.problems:
            read.reject(book, key, v.problems, sheet.name)
            continue
        read.keys.add(key)
        kind = v.kind or _kind_of(label, settings)
        read.records.append(
            BudgetRecord(
                external_id=key,
                project_ref=project,
                kind=kind,  # type: ignore[arg-type]
                effective_from=v.effective_from or min(v.starts),
                lines=tuple(_keyed_lines(key, v.lines)),
                number=v.number or 1,
                label=label,
                source_modified_at=modified,
                derived=True,
            )
        )
    return read


def _kind_of(label: str, settings: ExcelSettings) -> str:
    """A version's kind from its label ('Baseline 2025' is a baseline), else the setting."""
    first = label.strip().lower()
    for kind in BUDGET_KINDS:
        if first.startswith(kind):
            return kind
    return settings.budget_kind


def _keyed_lines(key: str, lines: list[BudgetLineRecord]) -> list[BudgetLineRecord]:
    """The lines with their version key in front of their natural key."""
    return [
        BudgetLineRecord(
            external_id=f"{key}/{ln.external_id}",
            amount=ln.amount,
            currency=ln.currency,
            cost_type=ln.cost_type,
            period=ln.period,
            task_ref=ln.task_ref,
            hours=ln.hours,
        )
        for ln in lines
    ]


def _row(
    f: Fields, v: _Version, book: Workbook, settings: ExcelSettings, calendar: CalendarSettings
) -> None:
    """Read one row into its version: its lines, or its problems."""
    before = len(f.problems)
    cost_type = f.get("cost_type", _cost_type(settings), required=True, code="unknown_cost_type")
    currency = f.get("currency", _currency, code="unknown_currency") or settings.default_currency
    if currency is None and f.raw("currency") is None:
        f.fail("currency", "is empty (and the connector has no default_currency)", "missing_value")
    minor = int(get_currency_precision(currency)) if currency else 4
    amount = f.get(
        "amount",
        lambda x: cells.amount(x, currency or "the currency", minor),
        required=True,
        code="bad_amount",
    )
    hours = f.get("hours", lambda x: _hours(cells.number(x, "a number of hours")))
    task = f.get("task", cells.text)
    spread = _periods(f, calendar)
    _version_fields(f, v)
    v.problems += f.problems[before:]
    if f.problems[before:] or cost_type is None or amount is None or currency is None or not spread:
        return
    natural = "/".join([cost_type, *([task] if task else [])])
    shares = _split(amount, hours, minor, len(spread))
    for (suffix, period_key, start), (share, share_hours) in zip(spread, shares, strict=True):
        line_key = f"{natural}/{suffix}"
        if line_key in v.rows:
            ref = f.at("amount")
            v.problems.append(
                (
                    "duplicate_key",
                    f"{ref}: {v.project} / {v.label} / {line_key} is also on row "
                    f"{v.rows[line_key]} of {f.row.sheet}",
                )
            )
            return
        v.rows[line_key] = f.row.number
        v.starts.append(start)
        v.lines.append(
            BudgetLineRecord(
                external_id=line_key,
                amount=share,
                currency=currency,
                cost_type=cost_type,
                period=period_key,
                task_ref=f"{book.stem}/{task}" if task else None,
                hours=share_hours,
            )
        )


def _cost_type(settings: ExcelSettings) -> Any:
    known = settings.cost_types

    def convert(value: Any) -> str:
        name = (cells.text(value) or "").lower()
        if name not in known:
            raise cells.CellError(f"{cells.shown(value)} is not a cost type ({', '.join(known)})")
        return name

    return convert


def _currency(value: Any) -> str:
    code = (cells.text(value) or "").upper()
    if code not in list_currencies():
        raise cells.CellError(f"{cells.shown(value)} is not a currency code")
    return code


def _hours(value: Decimal) -> Decimal:
    if cells.decimals(value) > 4:
        raise cells.CellError(f"{value} has more than 4 decimals")
    return value.quantize(_HOURS_Q)


def _periods(f: Fields, calendar: CalendarSettings) -> list[tuple[str, str, date]]:
    """(key suffix, period, first day) of each period the row's amount goes to: its Period,
    or every period its From..To range touches. Empty (with a problem) when it has neither."""
    if f.raw("period") is not None:
        key = f.get("period", lambda x: cells.period(x, calendar), code="bad_period")
        if key is None:
            return []
        return [(key, key, _period_start(key, calendar))]
    first = f.get("from", cells.day, code="bad_date")
    last = f.get("to", cells.day, code="bad_date")
    if first is None or last is None:
        if f.raw("from") is None and f.raw("to") is None:
            f.fail("period", "is empty: give a Period, or a From and a To date", "missing_value")
        elif f.raw("from") is None or f.raw("to") is None:
            empty = "from" if f.raw("from") is None else "to"
            f.fail(empty, "is empty: a date range needs both From and To", "missing_value")
        return []
    if last < first:
        f.fail("to", f"{last.isoformat()} is before From ({first.isoformat()})", "bad_date")
        return []
    spans = [
        p
        for p in periods_overlapping(calendar, first, last)
        if not p.special and p.start_on <= last and p.end_on >= first
    ]
    rng = f"{first.isoformat()}..{last.isoformat()}"
    return [(f"{rng}@{p.key}", p.key, max(p.start_on, first)) for p in spans]


def _period_start(key: str, calendar: CalendarSettings) -> date:
    """The first day of fiscal period `key` (a period the calendar must hold)."""
    year = int(key[:4])
    for p in periods_overlapping(calendar, date(year - 1, 1, 1), date(year + 1, 12, 31)):
        if p.key == key:
            return p.start_on
    raise cells.CellError(f"{key} is not a period of the fiscal calendar")


def _split(
    amount: Decimal, hours: Decimal | None, minor: int, n: int
) -> list[tuple[Decimal, Decimal | None]]:
    """`amount` (and `hours`) in `n` even shares, rounded ROUND_HALF_UP to the minor unit (4
    places), the remainder in the last share so they add up exactly."""
    unit = Decimal(1).scaleb(-minor)
    share = (amount / n).quantize(unit, rounding=ROUND_HALF_UP)
    amounts = [share] * (n - 1) + [amount - share * (n - 1)]
    if hours is None:
        return [(a, None) for a in amounts]
    h = (hours / n).quantize(_HOURS_Q, rounding=ROUND_HALF_UP)
    return list(zip(amounts, [h] * (n - 1) + [hours - h * (n - 1)], strict=True))


def _version_fields(f: Fields, v: _Version) -> None:
    """Kind, number and effective date of the version: the first row giving one sets it, a
    row giving another value is a problem."""
    kind = f.get("kind", _kind)
    number = f.get("number", _number)
    effective = f.get("effective_from", cells.day, code="bad_date")
    for name, value, field_ in (
        ("kind", kind, "kind"),
        ("number", number, "number"),
        ("effective_from", effective, "effective_from"),
    ):
        if value is None:
            continue
        have = getattr(v, name)
        if have is None:
            setattr(v, name, value)
        elif have != value:
            f.fail(field_, f"{value} differs from {have} given on an earlier row of {v.label}")


def _kind(value: Any) -> str:
    kind = (cells.text(value) or "").lower()
    if kind not in BUDGET_KINDS:
        raise cells.CellError(f"{cells.shown(value)} is not a kind ({', '.join(BUDGET_KINDS)})")
    return kind


def _number(value: Any) -> int:
    found = cells.number(value, "a version number")
    if found != found.to_integral_value() or found < 1:
        raise cells.CellError(f"{cells.shown(value)} is not a version number (1, 2, ...)")
    return int(found)
