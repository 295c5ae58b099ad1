"""Typed SQLAlchemy 2.0 models of the project ledger (DESIGN.md "Model")."""

from ledger.models.base import Base, UtcDateTime, table_of, utcnow
from ledger.models.budget import BudgetEntry, BudgetLine, BudgetVersion
from ledger.models.money import (
    ENTRY_REASONS,
    ActualLine,
    ActualPeriodTotal,
    AggregateState,
    LedgerEntry,
    ProgressSnapshot,
    RevenueForecast,
)
from ledger.models.operations import (
    ControlTotal,
    Quarantine,
    ScopeListed,
    SyncLock,
    SyncRun,
    SyncRunStream,
    SyncState,
    Variance,
)
from ledger.models.reference import FiscalPeriod, FxRate, FxRateDaily
from ledger.models.resources import Allocation, Resource, ResourceCapacity, ResourceRate
from ledger.models.structure import (
    UNMAPPED_CODE,
    UNMAPPED_ID,
    CostObjectMap,
    Portfolio,
    Program,
    Project,
    ProjectLink,
    Task,
    TaskDependency,
)

__all__ = [
    "ENTRY_REASONS",
    "UNMAPPED_CODE",
    "UNMAPPED_ID",
    "ActualLine",
    "ActualPeriodTotal",
    "AggregateState",
    "Allocation",
    "Base",
    "BudgetEntry",
    "BudgetLine",
    "BudgetVersion",
    "ControlTotal",
    "CostObjectMap",
    "FiscalPeriod",
    "FxRate",
    "FxRateDaily",
    "LedgerEntry",
    "Portfolio",
    "Program",
    "ProgressSnapshot",
    "Project",
    "ProjectLink",
    "Quarantine",
    "Resource",
    "ResourceCapacity",
    "ResourceRate",
    "RevenueForecast",
    "ScopeListed",
    "SyncLock",
    "SyncRun",
    "SyncRunStream",
    "SyncState",
    "Task",
    "TaskDependency",
    "UtcDateTime",
    "Variance",
    "table_of",
    "utcnow",
]
