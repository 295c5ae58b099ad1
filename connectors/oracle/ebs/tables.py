"""The E-Business Suite Projects objects the connector reads, as SQLAlchemy Core tables with
the names EBS gives them (upper case), so the same statements run on Oracle (APPS synonyms)
and on an EBS-shaped copy in SQLite or PostgreSQL (the sandbox, the tests).

Columns are the subset the connector reads (and the sandbox fills), with EBS's names; types
are the portable equivalents of EBS's (NUMBER -> Numeric, VARCHAR2 -> String, DATE ->
DateTime without a zone). Tables have no schema here: statements are rendered with a
`schema_translate_map` that puts them in the configured one (`schema`, default APPS).

Sources: Oracle's eTRM for EBS 12.2 (PA_COST_DISTRIBUTION_LINES_ALL: key (EXPENDITURE_ITEM_ID,
LINE_NUM), adjusting lines carry LINE_NUM_REVERSED, burdened lines types C and D;
PA_EXPENDITURE_ITEMS_ALL; PA_BUDGET_VERSIONS), Oracle's GL_DAILY_RATES description (key
FROM_CURRENCY, TO_CURRENCY, CONVERSION_DATE, CONVERSION_TYPE; STATUS_CODE), the fact sheet
/work/shared/reference/source-apis.md section 4.1. What could not be confirmed is listed in
docs/connectors/oracle.md ("Not confirmed").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
)
from sqlalchemy.types import TypeEngine

METADATA = MetaData()

ID: TypeEngine[int] = Numeric(15, 0, asdecimal=False)  # type: ignore[assignment]
AMOUNT = Numeric(asdecimal=True)


def _who() -> list[Column[Any]]:
    """EBS's WHO columns (dates without a time zone)."""
    return [
        Column("CREATION_DATE", DateTime(timezone=False)),
        Column("CREATED_BY", ID),
        Column("LAST_UPDATE_DATE", DateTime(timezone=False), nullable=False),
        Column("LAST_UPDATED_BY", ID),
        Column("LAST_UPDATE_LOGIN", ID),
    ]


PA_PROJECTS_ALL = Table(
    "PA_PROJECTS_ALL",
    METADATA,
    Column("PROJECT_ID", ID, primary_key=True),
    Column("SEGMENT1", String(25), nullable=False),  # the project number
    Column("NAME", String(30), nullable=False),
    Column("LONG_NAME", String(240)),
    Column("PROJECT_TYPE", String(20)),
    Column("PROJECT_STATUS_CODE", String(30)),
    Column("TEMPLATE_FLAG", String(1)),
    Column("ORG_ID", ID),
    Column("CARRYING_OUT_ORGANIZATION_ID", ID),
    Column("START_DATE", Date),
    Column("COMPLETION_DATE", Date),
    Column("CLOSED_DATE", Date),
    Column("PROJECT_CURRENCY_CODE", String(15)),
    Column("PROJFUNC_CURRENCY_CODE", String(15)),
    *_who(),
)

PA_TASKS = Table(
    "PA_TASKS",
    METADATA,
    Column("TASK_ID", ID, primary_key=True),
    Column("PROJECT_ID", ID, nullable=False),
    Column("TASK_NUMBER", String(25), nullable=False),
    Column("TASK_NAME", String(20), nullable=False),
    Column("LONG_TASK_NAME", String(240)),
    Column("PARENT_TASK_ID", ID),
    Column("TOP_TASK_ID", ID),
    Column("WBS_LEVEL", ID),
    Column("START_DATE", Date),
    Column("COMPLETION_DATE", Date),
    Column("CHARGEABLE_FLAG", String(1)),
    *_who(),
)

PA_EXPENDITURE_ITEMS_ALL = Table(
    "PA_EXPENDITURE_ITEMS_ALL",
    METADATA,
    Column("EXPENDITURE_ITEM_ID", ID, primary_key=True),
    Column("EXPENDITURE_ID", ID),
    Column("PROJECT_ID", ID, nullable=False),
    Column("TASK_ID", ID, nullable=False),
    Column("ORG_ID", ID),
    Column("EXPENDITURE_TYPE", String(30), nullable=False),
    Column("SYSTEM_LINKAGE_FUNCTION", String(3), nullable=False),
    Column("EXPENDITURE_ITEM_DATE", Date, nullable=False),
    Column("QUANTITY", AMOUNT),
    Column("UNIT_OF_MEASURE", String(30)),
    Column("RAW_COST", AMOUNT),  # functional currency
    Column("BURDEN_COST", AMOUNT),
    Column("DENOM_RAW_COST", AMOUNT),  # transaction currency
    Column("DENOM_BURDENED_COST", AMOUNT),
    Column("PROJECT_RAW_COST", AMOUNT),
    Column("PROJECT_BURDENED_COST", AMOUNT),
    Column("DENOM_CURRENCY_CODE", String(15)),
    Column("ACCT_CURRENCY_CODE", String(15)),
    Column("PROJECT_CURRENCY_CODE", String(15)),
    Column("PROJFUNC_CURRENCY_CODE", String(15)),
    Column("COST_DISTRIBUTED_FLAG", String(1)),
    Column("BILLABLE_FLAG", String(1)),
    Column("ADJUSTED_EXPENDITURE_ITEM_ID", ID),
    Column("TRANSACTION_SOURCE", String(30)),
    Column("ORIG_TRANSACTION_REFERENCE", String(50)),
    *_who(),
)

PA_COST_DISTRIBUTION_LINES_ALL = Table(
    "PA_COST_DISTRIBUTION_LINES_ALL",
    METADATA,
    Column("EXPENDITURE_ITEM_ID", ID, nullable=False),
    Column("LINE_NUM", ID, nullable=False),
    Column("LINE_TYPE", String(1), nullable=False),  # R raw, B burden, C/D total burdened
    Column("PROJECT_ID", ID),
    Column("TASK_ID", ID),
    Column("ORG_ID", ID),
    Column("AMOUNT", AMOUNT),  # raw cost, project functional currency (PROJFUNC_)
    Column("QUANTITY", AMOUNT),
    Column("BURDENED_COST", AMOUNT),  # project functional currency
    Column("PROJFUNC_BURDENED_CHANGE", AMOUNT),  # a revised burden schedule's change
    Column("PROJFUNC_CURRENCY_CODE", String(15)),
    Column("ACCT_RAW_COST", AMOUNT),  # the expenditure operating unit's functional currency
    Column("ACCT_BURDENED_COST", AMOUNT),
    Column("ACCT_BURDENED_CHANGE", AMOUNT),
    Column("ACCT_CURRENCY_CODE", String(15)),
    Column("PROJECT_CURRENCY_CODE", String(15)),
    Column("PROJECT_RAW_COST", AMOUNT),
    Column("PROJECT_BURDENED_COST", AMOUNT),
    Column("PROJECT_BURDENED_CHANGE", AMOUNT),
    Column("GL_DATE", Date),
    Column("PA_DATE", Date),
    Column("GL_PERIOD_NAME", String(15)),
    Column("PA_PERIOD_NAME", String(20)),
    Column("TRANSFER_STATUS_CODE", String(1)),
    Column("REVERSED_FLAG", String(1)),
    Column("LINE_NUM_REVERSED", ID),
    *_who(),
    PrimaryKeyConstraint("EXPENDITURE_ITEM_ID", "LINE_NUM"),
)

PA_BUDGET_VERSIONS = Table(
    "PA_BUDGET_VERSIONS",
    METADATA,
    Column("BUDGET_VERSION_ID", ID, primary_key=True),
    Column("PROJECT_ID", ID, nullable=False),
    Column("BUDGET_TYPE_CODE", String(30)),
    Column("VERSION_NUMBER", ID, nullable=False),
    Column("VERSION_NAME", String(60)),
    Column("BUDGET_STATUS_CODE", String(30), nullable=False),  # W working, S submitted, B
    Column("CURRENT_FLAG", String(1), nullable=False),
    Column("CURRENT_ORIGINAL_FLAG", String(1)),
    Column("BASELINED_DATE", Date),
    Column("RAW_COST", AMOUNT),  # project functional currency
    Column("BURDENED_COST", AMOUNT),
    Column("LABOR_QUANTITY", AMOUNT),
    *_who(),
)

PA_RESOURCE_ASSIGNMENTS = Table(
    "PA_RESOURCE_ASSIGNMENTS",
    METADATA,
    Column("RESOURCE_ASSIGNMENT_ID", ID, primary_key=True),
    Column("BUDGET_VERSION_ID", ID, nullable=False),
    Column("PROJECT_ID", ID, nullable=False),
    Column("TASK_ID", ID, nullable=False),  # 0: the project level
    Column("RESOURCE_LIST_MEMBER_ID", ID),
    Column("UNIT_OF_MEASURE", String(30)),
    *_who(),
)

PA_BUDGET_LINES = Table(
    "PA_BUDGET_LINES",
    METADATA,
    Column("BUDGET_LINE_ID", ID, primary_key=True),
    Column("BUDGET_VERSION_ID", ID, nullable=False),
    Column("RESOURCE_ASSIGNMENT_ID", ID, nullable=False),
    Column("START_DATE", Date, nullable=False),
    Column("END_DATE", Date, nullable=False),
    Column("PERIOD_NAME", String(30)),
    Column("QUANTITY", AMOUNT),
    Column("RAW_COST", AMOUNT),  # project functional currency (PROJFUNC_CURRENCY_CODE)
    Column("BURDENED_COST", AMOUNT),
    Column("PROJECT_RAW_COST", AMOUNT),  # project currency
    Column("PROJECT_BURDENED_COST", AMOUNT),
    Column("TXN_RAW_COST", AMOUNT),  # transaction currency (TXN_CURRENCY_CODE)
    Column("TXN_BURDENED_COST", AMOUNT),
    Column("REVENUE", AMOUNT),
    Column("TXN_CURRENCY_CODE", String(15)),
    *_who(),
)

GL_DAILY_RATES = Table(
    "GL_DAILY_RATES",
    METADATA,
    Column("FROM_CURRENCY", String(15), nullable=False),
    Column("TO_CURRENCY", String(15), nullable=False),
    Column("CONVERSION_DATE", Date, nullable=False),
    Column("CONVERSION_TYPE", String(30), nullable=False),
    Column("CONVERSION_RATE", AMOUNT, nullable=False),
    Column("STATUS_CODE", String(1), nullable=False),  # C current; D to be deleted
    *_who(),
    PrimaryKeyConstraint("FROM_CURRENCY", "TO_CURRENCY", "CONVERSION_DATE", "CONVERSION_TYPE"),
)

#: What the connector selects from, in the order a sandbox creates them; the grants needed.
TABLES = (
    PA_PROJECTS_ALL,
    PA_TASKS,
    PA_EXPENDITURE_ITEMS_ALL,
    PA_COST_DISTRIBUTION_LINES_ALL,
    PA_BUDGET_VERSIONS,
    PA_RESOURCE_ASSIGNMENTS,
    PA_BUDGET_LINES,
    GL_DAILY_RATES,
)
