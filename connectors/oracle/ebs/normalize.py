"""EBS rows -> ledger records: pure functions over the row mappings the reader's statements
return (column names as EBS spells them).

- PA_PROJECTS_ALL -> ProjectRecord: key and code SEGMENT1 (the project number, what other
  systems name the project by), currency PROJECT_CURRENCY_CODE;
- PA_TASKS -> TaskRecord: key TASK_ID, parent PARENT_TASK_ID, WBS code TASK_NUMBER;
- PA_COST_DISTRIBUTION_LINES_ALL raw lines (LINE_TYPE R) with their PA_EXPENDITURE_ITEMS_ALL
  item -> ActualRecord, key `<EXPENDITURE_ITEM_ID>/<LINE_NUM>`: the amount in the project's
  currency (PROJECT_RAW_COST, or PROJECT_BURDENED_COST plus PROJECT_BURDENED_CHANGE, the
  bucket a revised burden schedule updates, by `cost`); as base amount the line's amount in
  the ledger's base currency when it has one: the project functional amount (AMOUNT /
  BURDENED_COST + PROJFUNC_BURDENED_CHANGE, in PROJFUNC_CURRENCY_CODE) first, else the
  expenditure operating unit's (ACCT_RAW_COST / ACCT_BURDENED_COST + ACCT_BURDENED_CHANGE, in
  ACCT_CURRENCY_CODE); hours the line's QUANTITY for labor items (SYSTEM_LINKAGE_FUNCTION ST,
  OT) only;
- PA_BUDGET_VERSIONS with PA_BUDGET_LINES -> BudgetRecord per baselined version, the lines'
  project-currency amounts (PROJECT_RAW_COST / PROJECT_BURDENED_COST; RAW_COST and
  BURDENED_COST are in the project functional currency, TXN_ ones in TXN_CURRENCY_CODE);
- GL_DAILY_RATES -> FxRateRecord.

LAST_UPDATE_DATE is a DATE in the database's time zone: `utc` makes it the UTC timestamp the
ledger keeps. Every function raises ValueError naming the column for a row it cannot read; the
reader turns that into a Rejected row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from pmo_ledger.connectors.oracle.settings import LABOR_LINKAGES
from pmo_ledger.ledger.records import (
    ActualRecord,
    BudgetLineRecord,
    BudgetRecord,
    FxRateRecord,
    ProjectRecord,
    TaskRecord,
)

Row = Mapping[str, Any]
_MONEY = Decimal("0.0001")
_RATE = Decimal("0.00000001")
#: The resource assignments' unit whose budget quantities are hours.
HOURS_UOM = "HOURS"


def utc(value: datetime | None, zone: tzinfo) -> datetime | None:
    """A zone-less DATE of the database as an aware UTC timestamp."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def local(value: datetime, zone: tzinfo) -> datetime:
    """A cursor (aware) as the database's zone-less DATE to compare LAST_UPDATE_DATE with."""
    return value.astimezone(zone).replace(tzinfo=None)


def number(row: Row, column: str, quantum: Decimal = _MONEY) -> Decimal | None:
    """A NUMBER column as an exact Decimal at `quantum` (an SQLite copy stores floats)."""
    value = row.get(column)
    if value is None:
        return None
    try:
        return Decimal(str(value)).quantize(quantum, ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise ValueError(f"{column} is not a number: {value!r}") from None


def day(value: Any) -> date | None:
    """A DATE column as a date (drivers hand DATE over as datetime)."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def _text(row: Row, column: str) -> str | None:
    value = row.get(column)
    return str(value).strip() or None if value is not None else None


def ident(value: Any) -> str | None:
    """An ID column as the key text ('1001', never '1001.0')."""
    if value is None:
        return None
    return str(int(value))


def project_record(row: Row, zone: tzinfo) -> ProjectRecord:
    number_ = _text(row, "SEGMENT1")
    if number_ is None:
        raise ValueError("SEGMENT1 is empty")
    return ProjectRecord(
        external_id=number_,
        code=number_,
        name=_text(row, "LONG_NAME") or _text(row, "NAME") or number_,
        status=_text(row, "PROJECT_STATUS_CODE"),
        currency=_text(row, "PROJECT_CURRENCY_CODE"),
        planned_start=day(row.get("START_DATE")),
        planned_finish=day(row.get("COMPLETION_DATE")),
        closed_on=day(row.get("CLOSED_DATE")),
        source_modified_at=utc(row.get("LAST_UPDATE_DATE"), zone),
    )


def task_record(row: Row, zone: tzinfo) -> TaskRecord:
    key, project = ident(row.get("TASK_ID")), _text(row, "SEGMENT1")
    if key is None or project is None:
        raise ValueError("TASK_ID or its project's SEGMENT1 is empty")
    return TaskRecord(
        external_id=key,
        project_ref=project,
        name=_text(row, "LONG_TASK_NAME") or _text(row, "TASK_NAME") or key,
        parent_ref=ident(row.get("PARENT_TASK_ID")),
        wbs_code=_text(row, "TASK_NUMBER"),
        planned_start=day(row.get("START_DATE")),
        planned_finish=day(row.get("COMPLETION_DATE")),
        source_modified_at=utc(row.get("LAST_UPDATE_DATE"), zone),
    )


def line_key(row: Row) -> str:
    return f"{ident(row.get('EXPENDITURE_ITEM_ID'))}/{ident(row.get('LINE_NUM'))}"


def labor(row: Row) -> bool:
    return (row.get("SYSTEM_LINKAGE_FUNCTION") or "").strip() in LABOR_LINKAGES


def cost_type(row: Row) -> str:
    """labor for straight time and overtime; else the expenditure type in lower case."""
    if labor(row):
        return "labor"
    kind = _text(row, "EXPENDITURE_TYPE")
    if kind is None:
        raise ValueError("EXPENDITURE_TYPE is empty")
    return kind.lower()


#: A line's amounts per currency bucket: (raw, burdened, burden change) columns.
BUCKETS = {
    "PROJECT_": ("PROJECT_RAW_COST", "PROJECT_BURDENED_COST", "PROJECT_BURDENED_CHANGE"),
    "PROJFUNC_": ("AMOUNT", "BURDENED_COST", "PROJFUNC_BURDENED_CHANGE"),
    "ACCT_": ("ACCT_RAW_COST", "ACCT_BURDENED_COST", "ACCT_BURDENED_CHANGE"),
}


def cost(row: Row, bucket: str, burdened: bool) -> Decimal | None:
    """A line's raw cost, or burdened cost with the burden change a revised burden schedule
    left (EBS: nvl(burdened_cost, 0) + nvl(burdened_change, 0)), in one currency bucket;
    None when the line has no amount in it."""
    raw, burdened_cost, change = BUCKETS[bucket]
    if not burdened:
        return number(row, raw)
    amount = number(row, burdened_cost)
    if amount is None:
        return None
    return amount + (number(row, change) or Decimal(0))


def base_amount(row: Row, base_currency: str | None, burdened: bool) -> Decimal | None:
    """The line's amount in `base_currency`: the project functional one when that is its
    currency, else the expenditure operating unit's functional one; None when neither is."""
    if base_currency is None:
        return None
    for bucket in ("PROJFUNC_", "ACCT_"):
        if _text(row, f"{bucket}CURRENCY_CODE") == base_currency:
            amount = cost(row, bucket, burdened)
            if amount is not None:
                return amount
    return None


def actual_record(
    row: Row, zone: tzinfo, *, burdened: bool, base_currency: str | None
) -> ActualRecord:
    """A raw cost distribution line with its item's columns (see the module docstring)."""
    amount = cost(row, "PROJECT_", burdened)
    currency = _text(row, "PROJECT_CURRENCY_CODE")
    if amount is None or currency is None:
        raise ValueError("the line has no project amount or PROJECT_CURRENCY_CODE")
    posted = day(row.get("GL_DATE")) or day(row.get("EXPENDITURE_ITEM_DATE"))
    if posted is None:
        raise ValueError("GL_DATE and EXPENDITURE_ITEM_DATE are empty")
    base = base_amount(row, base_currency, burdened)
    quantity = number(row, "QUANTITY")
    is_labor = labor(row)
    kind = _text(row, "EXPENDITURE_TYPE")
    adjusted = ident(row.get("ADJUSTED_EXPENDITURE_ITEM_ID"))
    reversed_line = ident(row.get("LINE_NUM_REVERSED"))
    note = [kind or ""]
    if adjusted:
        note.append(f"adjusts item {adjusted}")
    if reversed_line:
        note.append(f"reverses line {reversed_line}")
    return ActualRecord(
        external_id=line_key(row),
        project_ref=_text(row, "SEGMENT1"),
        task_ref=ident(row.get("TASK_ID")),
        posted_on=posted,
        kind="cost",
        cost_type=cost_type(row),
        currency=currency,
        amount=amount,
        base_amount=base,
        hours=quantity if is_labor else None,
        quantity=None if is_labor else quantity,
        uom=None if is_labor or quantity is None else _text(row, "UNIT_OF_MEASURE"),
        description=", ".join(n for n in note if n) or None,
        source_modified_at=utc(row.get("LAST_UPDATE_DATE"), zone),
    )


def budget_line(
    row: Row, period: str, currency: str, *, burdened: bool
) -> BudgetLineRecord:
    """A PA_BUDGET_LINES row with its assignment's TASK_ID (0: the project level) and unit,
    in `currency`, the project's (PROJECT_RAW_COST / PROJECT_BURDENED_COST)."""
    amount = number(row, "PROJECT_BURDENED_COST" if burdened else "PROJECT_RAW_COST")
    hours = number(row, "QUANTITY") if _text(row, "UNIT_OF_MEASURE") == HOURS_UOM else None
    task = ident(row.get("TASK_ID"))
    return BudgetLineRecord(
        external_id=ident(row.get("BUDGET_LINE_ID")) or "",
        amount=amount if amount is not None else Decimal("0.0000"),
        currency=currency,
        cost_type="total",
        period=period,
        task_ref=None if task in (None, "0") else task,
        hours=hours,
    )


def budget_records(
    version: Row, lines: Sequence[BudgetLineRecord], zone: tzinfo
) -> list[BudgetRecord]:
    """A baselined version as a `current` version numbered VERSION_NUMBER (the ledger marks
    lower numbers superseded), and the original baseline (CURRENT_ORIGINAL_FLAG) once more
    as the project's `baseline`."""
    project = _text(version, "SEGMENT1")
    key = ident(version.get("BUDGET_VERSION_ID"))
    if project is None or key is None:
        raise ValueError("BUDGET_VERSION_ID or its project's SEGMENT1 is empty")
    stamp = utc(version.get("LAST_UPDATE_DATE"), zone)
    effective = day(version.get("BASELINED_DATE")) or (stamp or datetime.now(UTC)).date()
    label = _text(version, "VERSION_NAME") or f"version {ident(version.get('VERSION_NUMBER'))}"
    current = BudgetRecord(
        external_id=key,
        project_ref=project,
        kind="current",
        effective_from=effective,
        lines=tuple(lines),
        number=int(version["VERSION_NUMBER"]),
        label=label,
        status="B",
        source_modified_at=stamp,
    )
    out = [current]
    if (version.get("CURRENT_ORIGINAL_FLAG") or "") == "Y":
        out.append(BudgetRecord(
            external_id=f"{key}/original", project_ref=project, kind="baseline",
            effective_from=effective, lines=tuple(lines), number=current.number,
            label=label, status="B", source_modified_at=stamp,
        ))  # fmt: skip
    return out


def fx_rate(row: Row, rate_type: str, zone: tzinfo) -> FxRateRecord:
    rate = number(row, "CONVERSION_RATE", _RATE)
    valid_from = day(row.get("CONVERSION_DATE"))
    if rate is None or rate <= 0 or valid_from is None:
        raise ValueError("CONVERSION_RATE or CONVERSION_DATE is missing or not positive")
    return FxRateRecord(
        from_ccy=str(row["FROM_CURRENCY"]).strip(),
        to_ccy=str(row["TO_CURRENCY"]).strip(),
        valid_from=valid_from,
        rate=rate,
        rate_type=rate_type,
        source_modified_at=utc(row.get("LAST_UPDATE_DATE"), zone),
    )
