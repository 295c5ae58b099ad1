"""Normalized records that connectors put into pages, and their JSON form for quarantine.

Records are plain frozen dataclasses: Decimals already quantized by the connector, business
dates as `date`, technical timestamps UTC-aware. References to other records of the same
source are by the source's own key (`project_ref`, `task_ref`, `resource_ref`); the writer
resolves them. `project_ref_type` says what kind of key `project_ref` is ('project' for a
source project record, or a cost object type such as 'wbs', 'cost_center', 'order').
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import TypeAdapter


@dataclass(frozen=True, slots=True, kw_only=True)
class ProjectRecord:
    external_id: str
    code: str
    name: str
    portfolio: str | None = None
    portfolio_name: str | None = None
    program: str | None = None
    program_name: str | None = None
    status: str | None = None
    #: How the project's owner rates it: on_target | at_risk | in_trouble (or the source's
    #: own code, up to 20 characters, when it has another).
    condition: str | None = None
    currency: str | None = None
    manager: str | None = None
    planned_start: date | None = None
    planned_finish: date | None = None
    actual_start: date | None = None
    actual_finish: date | None = None
    closed_on: date | None = None
    percent_complete: Decimal | None = None
    status_date: date | None = None
    source_url: str | None = None
    source_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord:
    external_id: str
    project_ref: str
    name: str
    project_ref_type: str = "project"
    parent_ref: str | None = None
    wbs_code: str | None = None
    planned_start: date | None = None
    planned_finish: date | None = None
    actual_start: date | None = None
    actual_finish: date | None = None
    effort_hours: Decimal | None = None
    percent_complete: Decimal | None = None
    status_date: date | None = None
    optimistic_days: Decimal | None = None
    most_likely_days: Decimal | None = None
    pessimistic_days: Decimal | None = None
    source_url: str | None = None
    source_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DependencyRecord:
    external_id: str
    predecessor_ref: str
    successor_ref: str
    dependency_type: Literal["FS", "SS", "FF", "SF"] = "FS"
    lag_days: Decimal = Decimal(0)
    source_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceRecord:
    external_id: str
    name: str
    email: str | None = None
    role: str | None = None
    department: str | None = None
    active: bool = True
    source_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceRateRecord:
    """A cost rate per hour for a resource (resource_ref) or a role, from a date on."""

    external_id: str
    effective_from: date
    cost_rate: Decimal
    currency: str
    resource_ref: str | None = None
    role: str | None = None
    source_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CapacityRecord:
    resource_ref: str
    period: str
    hours: Decimal
    source_modified_at: datetime | None = None

    @property
    def external_id(self) -> str:
        return f"{self.resource_ref}/{self.period}"


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocationRecord:
    """Planned hours of one allocation (`external_id`) in one period. `whole`: the source
    sends every period of the allocation together in one batch, so the allocation's live
    periods a batch does not list are closed (its task moved); other sources may send one
    period at a time and keep the rest."""

    external_id: str
    project_ref: str
    period: str
    planned_hours: Decimal
    project_ref_type: str = "project"
    resource_ref: str | None = None
    role: str | None = None
    task_ref: str | None = None
    source_modified_at: datetime | None = None
    whole: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetLineRecord:
    """One budget amount; `period` None means the ledger phases it (rule 11)."""

    external_id: str
    amount: Decimal
    currency: str
    cost_type: str = "total"
    period: str | None = None
    task_ref: str | None = None
    hours: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetRecord:
    """A budget version of a project with its lines.

    `derived` marks a version the connector built from a full re-read of every source row
    that makes it (all of a project's counting budgets), not from one source row: such a
    version replaces the stored one whenever its content differs, whatever the timestamps
    say (rule 5's "never older" guard is for single-row records; a derived version whose
    newest row was deleted looks older than the stored one). Its `source_modified_at` is
    the time of that read (the source's clock); see docs/architecture.md, "Budgets".
    """

    external_id: str
    project_ref: str
    kind: Literal["baseline", "current", "forecast", "plan", "released"]
    effective_from: date
    lines: tuple[BudgetLineRecord, ...] = ()
    number: int = 1
    label: str | None = None
    status: str | None = None
    project_ref_type: str = "project"
    planned_start: date | None = None
    planned_finish: date | None = None
    source_modified_at: datetime | None = None
    derived: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ActualRecord:
    """One actual: money and/or hours (rule 9). `base_amount` only when the source states it."""

    external_id: str
    project_ref: str | None
    posted_on: date
    kind: Literal["cost", "revenue"] = "cost"
    cost_type: str = "other"
    project_ref_type: str = "project"
    task_ref: str | None = None
    resource_ref: str | None = None
    role: str | None = None
    period: str | None = None
    currency: str | None = None
    amount: Decimal | None = None
    hours: Decimal | None = None
    quantity: Decimal | None = None
    uom: str | None = None
    base_amount: Decimal | None = None
    description: str | None = None
    source_url: str | None = None
    source_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RevenueForecastRecord:
    external_id: str
    project_ref: str | None
    name: str
    amount: Decimal
    currency: str
    stage: str | None = None
    probability: Decimal | None = None
    close_date: date | None = None
    project_ref_type: str = "project"
    source_url: str | None = None
    source_modified_at: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FxRateRecord:
    """1 from_ccy = rate to_ccy from valid_from on."""

    from_ccy: str
    to_ccy: str
    valid_from: date
    rate: Decimal
    rate_type: str = "corporate"
    source_modified_at: datetime | None = None

    @property
    def external_id(self) -> str:
        return f"{self.rate_type}/{self.from_ccy}/{self.to_ccy}/{self.valid_from.isoformat()}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgressRecord:
    """Percent complete (0-100) of a project, or of a task when task_ref is set, at a date."""

    project_ref: str
    status_date: date
    percent: Decimal
    task_ref: str | None = None
    project_ref_type: str = "project"
    source_modified_at: datetime | None = None

    @property
    def external_id(self) -> str:
        return f"{self.project_ref}/{self.task_ref or ''}/{self.status_date.isoformat()}"


Record = (
    ProjectRecord
    | TaskRecord
    | DependencyRecord
    | ResourceRecord
    | ResourceRateRecord
    | CapacityRecord
    | AllocationRecord
    | BudgetRecord
    | ActualRecord
    | RevenueForecastRecord
    | FxRateRecord
    | ProgressRecord
)

RECORD_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ProjectRecord,
        TaskRecord,
        DependencyRecord,
        ResourceRecord,
        ResourceRateRecord,
        CapacityRecord,
        AllocationRecord,
        BudgetRecord,
        ActualRecord,
        RevenueForecastRecord,
        FxRateRecord,
        ProgressRecord,
    )
}
#: What a stream's deletions remove (`StreamSpec.deletes`): the kind, in the order the writer
#: knows them, and the record type a stream of that kind carries.
DELETION_KINDS: dict[str, type[Any]] = {
    "actual": ActualRecord,
    "budget": BudgetRecord,
    "forecast": RevenueForecastRecord,
    "allocation": AllocationRecord,
    "project": ProjectRecord,
    "task": TaskRecord,
    "dependency": DependencyRecord,
    "resource": ResourceRecord,
    "resource_rate": ResourceRateRecord,
}
_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _adapter(cls: type[Any]) -> TypeAdapter[Any]:
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


def record_to_json(record: Record) -> dict[str, Any]:
    """A JSON-ready dict of a record with its type tag (Decimals as strings, dates ISO)."""
    data: dict[str, Any] = _adapter(type(record)).dump_python(record, mode="json")
    return {"type": type(record).__name__, "data": data}


def record_from_json(payload: dict[str, Any]) -> Record:
    """The record `record_to_json` stored. Raises ValueError for an unknown type tag."""
    cls = RECORD_TYPES.get(payload.get("type", ""))
    if cls is None:
        raise ValueError(f"unknown record type {payload.get('type')!r} in quarantine payload")
    record: Record = _adapter(cls).validate_python(payload["data"])
    return record


def older_version(new: datetime | None, old: datetime | None) -> bool:
    """Whether a version changed at `new` is older than one changed at `old` (rule 5: a retry
    or a late page never goes back in time). Unknown change times are never older."""
    return new is not None and old is not None and new < old


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row the connector could not normalize: it goes to quarantine, never raises."""

    external_id: str | None
    reason: str
    payload: Any = field(default=None)
