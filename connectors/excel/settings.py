"""Settings of the Excel connector: where the workbooks are and what their cells may say.

Every key has a default except `path`; docs/connectors/excel.md lists them. The settings
import nothing heavy (no openpyxl), so `pmo-ledger connectors` stays light.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from pmo_ledger.connectors.base import ConnectorSettings

#: Cost types a budget row may name when `cost_types` is not set: the sample portfolio's and
#: the common PMO expense types.
DEFAULT_COST_TYPES = ("labor", "travel", "software", "subcontract", "equipment", "other")
BUDGET_KINDS = ("baseline", "current", "forecast", "plan")


class ExcelSettings(ConnectorSettings):
    """The `[connectors.<name>]` table of a `kind = "excel"` connector."""

    #: A workbook (.xlsx), a folder of them, or a glob (`plans/*-budget.xlsx`). Relative paths
    #: are taken from the directory the command runs in.
    path: str = Field(min_length=1)
    #: In a folder: which files are read (a glob over the file names, not recursive).
    pattern: str = Field(default="*.xlsx", min_length=1)
    #: Cost types a Budgets row may name (case-insensitive; stored lower case).
    cost_types: list[str] = Field(default_factory=lambda: list(DEFAULT_COST_TYPES), min_length=1)
    #: Currency of a Budgets row whose Currency cell is empty (None: the cell is required).
    default_currency: str | None = None
    #: Kind of a budget version whose rows give no Kind (see docs: a label beginning with
    #: "baseline", "forecast" or "plan" gives that kind).
    budget_kind: Literal["baseline", "current", "forecast", "plan"] = "current"
    #: Status date of the Plan's percent complete when a row gives none: None takes the
    #: workbook's own "modified" property (its last save), else the file's modification date.
    status_date: date | None = None
    #: Sheet names (matched case-insensitively).
    budgets_sheet: str = "Budgets"
    plan_sheet: str = "Plan"
    dependencies_sheet: str = "Dependencies"

    @field_validator("cost_types")
    @classmethod
    def _cost_types(cls, value: list[str]) -> list[str]:
        out = [v.strip().lower() for v in value]
        if any(not v or len(v) > 50 for v in out):
            raise ValueError("a cost type is 1 to 50 characters")
        if len(set(out)) != len(out):
            raise ValueError("a cost type is listed twice")
        return out

    @field_validator("default_currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise ValueError(f"not a currency code: {value!r}")
        return value
