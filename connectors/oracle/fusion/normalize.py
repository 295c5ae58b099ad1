"""Fusion rows -> records. Pure functions of a row (and the settings); a row that cannot be
read raises ValueError, which the reader turns into a `Rejected` row.

The attribute names are those of the REST API for Oracle Fusion Cloud Project Management
(release 24-25): where the docs we could read did not list a resource's attributes, the name
is our best reading and is marked UNCONFIRMED in the README section: check it against
`GET <resource>/describe` on the pod before relying on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pmo_ledger.connectors.oracle.fusion import values as v
from pmo_ledger.connectors.oracle.fusion.settings import FusionSettings
from pmo_ledger.ledger.currencies import is_currency
from pmo_ledger.ledger.records import (
    ActualRecord,
    BudgetLineRecord,
    BudgetRecord,
    FxRateRecord,
    ProjectRecord,
    Rejected,
    TaskRecord,
)
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import periods_overlapping

Row = Mapping[str, Any]
_SCALE = Decimal("0.0001")

PROJECT_FIELDS = (
    "ProjectId", "ProjectNumber", "ProjectName", "ProjectStatus", "ProjectStartDate",
    "ProjectEndDate", "ProjectCurrencyCode", "BusinessUnitName", "ProjectManagerName",
    "LastUpdateDate",
)  # fmt: skip
TASK_FIELDS = (
    "TaskId", "TaskNumber", "TaskName", "ParentTaskId", "TaskStartDate", "TaskFinishDate",
    "LastUpdateDate",
)  # fmt: skip
COST_FIELDS = (
    "ExpenditureItemId", "ProjectId", "ProjectNumber", "TaskId", "TaskNumber",
    "ExpenditureItemDate", "ExpenditureTypeName", "ExpenditureCategoryName", "Quantity",
    "UnitOfMeasure", "ProjectCurrencyCode", "ProjectRawCost", "ProjectBurdenedCost",
    "ProjectLedgerCurrencyCode", "ProjectLedgerRawCost", "ProjectLedgerBurdenedCost",
    "PersonNumber", "LastUpdateDate",
)  # fmt: skip
BUDGET_FIELDS = (
    "PlanVersionId", "ProjectId", "ProjectNumber", "FinancialPlanType", "PlanVersionNumber",
    "PlanVersionName", "PlanVersionStatus", "BaselineDate", "LastUpdateDate",
)  # fmt: skip
#: The counting budget version and the superseded ones kept as history.
CURRENT_BASELINE = "Current Baseline"
BASELINE_STATUSES = (CURRENT_BASELINE, "Baseline")
RATE_FIELDS = ("FromCurrency", "ToCurrency", "ConversionDate", "ConversionRate",
               "UserConversionType")  # fmt: skip
#: Units of measure of hours as Fusion names them (the seeded UOM is "Hours", code HRS).
HOUR_UNITS = frozenset({"hours", "hour", "hrs", "hr", "h"})


def scaled(value: Decimal) -> Decimal:
    """A Fusion amount at the ledger's scale (4 places, half-up)."""
    return value.quantize(_SCALE, ROUND_HALF_UP)


def cost_type_of(name: str | None) -> str:
    """An expenditure category or resource class as the ledger's cost type ("Labor" ->
    "labor", "Outside Services" -> "outside_services"); "other" when absent."""
    if not name:
        return "other"
    return "_".join(name.lower().split())


def project(row: Row) -> ProjectRecord:
    """A `projects` row."""
    number = v.text(row, "ProjectNumber")
    if not number:
        raise ValueError("ProjectNumber is empty")
    v.key(row, "ProjectId")
    currency = v.text(row, "ProjectCurrencyCode")
    if currency is not None and not is_currency(currency):
        raise ValueError(f"ProjectCurrencyCode {currency!r} is no currency")
    return ProjectRecord(
        external_id=number,
        code=number,
        name=v.text(row, "ProjectName") or number,
        status=v.text(row, "ProjectStatus"),
        currency=currency,
        manager=v.text(row, "ProjectManagerName"),
        planned_start=v.day(row, "ProjectStartDate"),
        planned_finish=v.day(row, "ProjectEndDate"),
        source_modified_at=v.stamp(row),
    )


def task(row: Row, project_number: str) -> TaskRecord:
    """A `projects/{ProjectId}/child/Tasks` row of the project numbered `project_number`."""
    task_id = v.key(row, "TaskId")
    parent = row.get("ParentTaskId")
    return TaskRecord(
        external_id=task_id,
        project_ref=project_number,
        name=v.text(row, "TaskName") or v.text(row, "TaskNumber") or task_id,
        parent_ref=v.key(row, "ParentTaskId") if parent not in (None, "") else None,
        wbs_code=v.text(row, "TaskNumber"),
        planned_start=v.day(row, "TaskStartDate"),
        planned_finish=v.day(row, "TaskFinishDate"),
        source_modified_at=v.stamp(row),
    )


def cost(row: Row, settings: FusionSettings) -> ActualRecord:
    """A `projectCosts` row: the cost in the project currency (raw or burdened, as
    `settings.cost` says), hours for labor, Fusion's own project ledger amount as the base
    amount when that currency is the ledger's base currency. Reversals are rows of their own
    with negative amounts; a re-costed item is the same row with new amounts."""
    item = v.key(row, "ExpenditureItemId")
    number = v.text(row, "ProjectNumber")
    if not number:
        raise ValueError("the cost names no project (ProjectNumber is empty)")
    day = v.day(row, "ExpenditureItemDate")
    if day is None:
        raise ValueError("ExpenditureItemDate is empty")
    currency = v.text(row, "ProjectCurrencyCode")
    if not currency or not is_currency(currency):
        raise ValueError(f"ProjectCurrencyCode {currency!r} is no currency")
    which = "Raw" if settings.cost == "raw" else "Burdened"
    amount = v.number(row, f"Project{which}Cost")
    if amount is None:
        raise ValueError(f"Project{which}Cost is empty")
    category = v.text(row, "ExpenditureCategoryName")
    labor = category is not None and category in settings.labor_categories
    quantity = v.number(row, "Quantity")
    unit = v.text(row, "UnitOfMeasure")
    hours = None
    if labor and quantity is not None:
        if unit is not None and unit.lower() not in HOUR_UNITS:
            raise ValueError(f"a labor cost in {unit!r}, not hours")
        hours, quantity, unit = scaled(quantity), None, None
    base = None
    ledger_ccy = v.text(row, "ProjectLedgerCurrencyCode")
    if settings.base_currency is not None and ledger_ccy == settings.base_currency:
        stated = v.number(row, f"ProjectLedger{which}Cost")
        base = scaled(stated) if stated is not None else None
    task_ref = row.get("TaskId")
    return ActualRecord(
        external_id=item,
        project_ref=number,
        posted_on=day,
        kind="cost",
        cost_type="labor" if labor else cost_type_of(category),
        task_ref=v.key(row, "TaskId") if task_ref not in (None, "") else None,
        resource_ref=v.text(row, "PersonNumber"),
        currency=currency,
        amount=scaled(amount),
        hours=hours,
        quantity=scaled(quantity) if quantity is not None else None,
        uom=unit if quantity is not None else None,
        base_amount=base,
        description=v.text(row, "ExpenditureTypeName"),
        source_modified_at=v.stamp(row),
    )


def period_of(calendar: CalendarSettings, day: date) -> str:
    """The ledger's fiscal period ('YYYY-PP') that holds `day` (not a special period)."""
    for spec in periods_overlapping(calendar, day, day):
        if not spec.special and spec.start_on <= day <= spec.end_on:
            return spec.key
    raise ValueError(f"no fiscal period of the ledger holds {day}")


def budget(
    version: Row,
    resources: Sequence[Row],
    settings: FusionSettings,
    calendar: CalendarSettings,
) -> BudgetRecord:
    """A baselined `projectBudgets` version with its `PlanningResources` (their
    `PlanningAmounts` and periodic `PlanningAmountDetails` expanded) as one budget version:
    a line per periodic detail (a summary amount without details: a line the ledger phases).
    Each baselined version is a `current` version numbered by `PlanVersionNumber`: the
    ledger supersedes the lower numbers, so only the current baseline counts."""
    version_id = v.key(version, "PlanVersionId")
    number = v.text(version, "ProjectNumber")
    if not number:
        raise ValueError("the budget version names no project (ProjectNumber is empty)")
    which = "Raw" if settings.cost == "raw" else "Burdened"
    lines: list[BudgetLineRecord] = []
    for res in resources:
        cost_type = cost_type_of(v.text(res, "ResourceClass"))
        labor = cost_type == "labor"
        task_ref = res.get("TaskId")
        task = v.key(res, "TaskId") if task_ref not in (None, "") else None
        for amounts in children(res, "PlanningAmounts"):
            currency = v.text(amounts, "Currency")
            if not currency or not is_currency(currency):
                raise ValueError(f"a budget line in {currency!r}, no currency")
            details = children(amounts, "PlanningAmountDetails")
            if not details:
                details = [amounts]
            for d in details:
                value = v.number(d, f"{which}CostAmounts")
                if value is None:
                    continue
                start = v.day(d, "StartDate")
                quantity = v.number(d, "Quantity")
                line_id = v.key(d, "PlanLineDetailId" if d is not amounts else "PlanLineId")
                lines.append(
                    BudgetLineRecord(
                        external_id=line_id,
                        amount=scaled(value),
                        currency=currency,
                        cost_type=cost_type,
                        period=period_of(calendar, start) if start is not None else None,
                        task_ref=task,
                        hours=scaled(quantity) if labor and quantity is not None else None,
                    )
                )
    stamp = v.stamp(version)
    effective = v.day(version, "BaselineDate") or stamp.date()
    return BudgetRecord(
        external_id=version_id,
        project_ref=number,
        kind="current",
        effective_from=effective,
        lines=tuple(lines),
        number=int(v.number(version, "PlanVersionNumber") or 1),
        label=v.text(version, "PlanVersionName"),
        status=v.text(version, "PlanVersionStatus"),
        source_modified_at=stamp,
    )


def children(row: Row, name: str) -> list[Row]:
    """An expanded child collection of a row: `{"items": [...]}` (or a bare list)."""
    value = row.get(name)
    if isinstance(value, Mapping):
        value = value.get("items")
    if not isinstance(value, list):
        return []
    return [r for r in value if isinstance(r, Mapping)]


def rate(row: Row, rate_type: str) -> FxRateRecord:
    """A `currencyRates` row: 1 FromCurrency = ConversionRate ToCurrency on ConversionDate."""
    source, target = v.text(row, "FromCurrency"), v.text(row, "ToCurrency")
    if not source or not target or not is_currency(source) or not is_currency(target):
        raise ValueError(f"no currency pair: {source!r} -> {target!r}")
    valid = v.day(row, "ConversionDate")
    value = v.number(row, "ConversionRate")
    if valid is None or value is None or value <= 0:
        raise ValueError("ConversionDate or ConversionRate is missing or not positive")
    return FxRateRecord(
        from_ccy=source,
        to_ccy=target,
        valid_from=valid,
        rate=value.quantize(Decimal("0.00000001"), ROUND_HALF_UP),
        rate_type=rate_type.lower(),
    )


def plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A raw row as JSON-able data for quarantine (Decimals as text)."""
    return {k: str(x) if isinstance(x, Decimal) else x for k, x in row.items()}


def reject(row: Mapping[str, Any], key: str, exc: ValueError) -> Rejected:
    """A row that cannot be read, as quarantine takes it (`no_project` for a cost or budget
    that names no project, `unreadable_row` otherwise)."""
    external = v.text(row, key)
    reason = "no_project" if "names no project" in str(exc) else "unreadable_row"
    return Rejected(external, reason, {"error": str(exc), "row": plain(row)})
