"""Typed SQLAlchemy 2.0 models of the project ledger (DESIGN.md "Model")."""

from pmo_ledger.ledger.models.base import Base, UtcDateTime, table_of, utcnow
from pmo_ledger.ledger.models.budget import BudgetEntry, BudgetLine, BudgetVersion
from pmo_ledger.ledger.models.history import HISTORY, TRACKED, history_name
from pmo_ledger.ledger.models.money import (
    ENTRY_REASONS,
    ActualLine,
    ActualPeriodTotal,
    AggregateState,
    LedgerEntry,
    ProgressSnapshot,
    RevenueForecast,
)
from pmo_ledger.ledger.models.operations import (
    ControlTotal,
    Quarantine,
    ScopeListed,
    SyncLock,
    SyncRun,
    SyncRunStream,
    SyncState,
    Variance,
    VarianceEvent,
)
from pmo_ledger.ledger.models.reference import FiscalPeriod, FxRate, FxRateDaily
from pmo_ledger.ledger.models.resources import Allocation, Resource, ResourceCapacity, ResourceRate
from pmo_ledger.ledger.models.snapshot import PortfolioSnapshot, PortfolioSnapshotRow
from pmo_ledger.ledger.models.structure import (
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
    "HISTORY",
    "TRACKED",
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
    "PortfolioSnapshot",
    "PortfolioSnapshotRow",
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
    "VarianceEvent",
    "history_name",
    "table_of",
    "utcnow",
]
