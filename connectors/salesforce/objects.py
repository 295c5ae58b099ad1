"""The Salesforce connector's streams: which object each reads, its default field roles, how a
row is normalized, what its deletions remove and which states count.

Field roles are the connector's vocabulary (`amount`, `hours`, `project`...); the defaults
below are Certinia PSA's field names and `[connectors.<name>.streams.<stream>] fields` overrides
any of them (`fields = { amount = "My_Cost__c" }`). Certinia field names beyond the project
lookup and status were taken from public metadata dumps (see
../shared/reference/source-apis.md section 1.8): confirm them with `describe()` on the org.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.base import CursorKind, StreamSpec
from connectors.salesforce import normalize as n

_TS: CursorKind = "timestamp"


@dataclass(frozen=True)
class ObjectStream:
    """One stream over one SObject."""

    spec: StreamSpec
    sobject: str
    roles: Mapping[str, str | None]
    normalize: Callable[..., Any] | None
    #: A condition every read adds (e.g. only resource contacts).
    base_where: str | None = None
    #: A normalizer's None means the row left the counting state: a deletion (else: skip).
    none_deletes: bool = True
    #: The object is soft-deleted (IsDeleted, queryAll, the delete log).
    soft_deleted: bool = True
    #: Roles the project / period scope filters use.
    project_role: str | None = None
    date_role: str | None = None
    #: Actual streams have control totals (`pmo-ledger verify`).
    amount_role: str | None = None
    expand: str | None = None  # "budgets" | "opportunities": rows need a second query
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name


_ACTUAL_ROLES: dict[str, str | None] = {
    "project": "pse__Project__c",
    "resource": "pse__Resource__c",
    "currency": "CurrencyIsoCode",
    "counts": "pse__Include_In_Financials__c",
}

STREAMS: dict[str, ObjectStream] = {
    s.name: s
    for s in (
        ObjectStream(
            StreamSpec("projects", _TS, "project", "<pse__Proj__c.Id>"),
            "pse__Proj__c",
            {
                "name": "Name",
                "code": "pse__Project_ID__c",
                "status": "pse__Stage__c",
                "start": "pse__Start_Date__c",
                "finish": "pse__End_Date__c",
                "manager": "pse__Project_Manager__r.Name",
                "percent_complete": "pse__Percent_Hours_Complete__c",
                "currency": "CurrencyIsoCode",
            },
            n.project,
        ),
        ObjectStream(
            StreamSpec("resources", _TS, "resource", "<Contact.Id>", counts="pse__Is_Resource__c"),
            "Contact",
            {
                "name": "Name",
                "email": "Email",
                "role": "pse__Resource_Role__c",
                "department": "pse__Practice__r.Name",
                "active": "pse__Is_Resource_Active__c",
            },
            n.resource,
            base_where="pse__Is_Resource__c = true",
        ),
        ObjectStream(
            StreamSpec("resource_rates", _TS, "resource_rate", "<Contact.Id>"),
            "Contact",
            {
                "cost_rate": "pse__Default_Cost_Rate__c",
                "start": "pse__Start_Date__c",
                "currency": "CurrencyIsoCode",
            },
            n.resource_rate,
            base_where="pse__Is_Resource__c = true",
        ),
        ObjectStream(
            StreamSpec(
                "fx_rates", _TS, external_id="<rate_type>/<corporate>/<IsoCode>/<StartDate>"
            ),
            "DatedConversionRate",
            {"currency": "IsoCode", "rate": "ConversionRate", "start": "StartDate"},
            n.dated_rate,
            none_deletes=False,
            soft_deleted=False,
        ),
        ObjectStream(
            StreamSpec(
                "currency_rates", _TS, external_id="<rate_type>/<corporate>/<IsoCode>/<rates_from>"
            ),
            "CurrencyType",
            {"currency": "IsoCode", "rate": "ConversionRate", "active": "IsActive"},
            n.static_rate,
            none_deletes=False,
            soft_deleted=False,
        ),
        ObjectStream(
            StreamSpec(
                "allocations",
                _TS,
                "allocation",
                "<pse__Assignment__c.Id>, one record per fiscal period it spans",
                scopes=("project",),
            ),
            "pse__Assignment__c",
            {
                "project": "pse__Project__c",
                "resource": "pse__Resource__c",
                "start": "pse__Start_Date__c",
                "end": "pse__End_Date__c",
                "hours": "pse__Scheduled_Hours__c",
            },
            n.allocation,
            project_role="project",
        ),
        ObjectStream(
            StreamSpec(
                "budgets",
                _TS,
                "budget",
                "<pse__Proj__c.Id>/baseline and <pse__Proj__c.Id>/current; lines "
                "<pse__Budget__c.Id>",
                counts="pse__Budget__c rows whose pse__Status__c is in budget_statuses",
                scopes=("project",),
            ),
            "pse__Budget__c",
            {
                "project": "pse__Project__c",
                "amount": "pse__Amount__c",
                "status": "pse__Status__c",
                "type": "pse__Type__c",
                "effective": "pse__Effective_Date__c",
                "currency": "CurrencyIsoCode",
                "project_start": "pse__Project__r.pse__Start_Date__c",
                "project_finish": "pse__Project__r.pse__End_Date__c",
            },
            None,
            project_role="project",
            expand="budgets",
        ),
        ObjectStream(
            StreamSpec(
                "timecards",
                _TS,
                "actual",
                "<pse__Timecard__c.Id> (the split; the header's Id when object = "
                "pse__Timecard_Header__c)",
                counts="pse__Include_In_Financials__c = true; leaving that state is a deletion",
                scopes=("project", "period"),
            ),
            "pse__Timecard__c",
            {
                **_ACTUAL_ROLES,
                "date": "pse__Start_Date__c",
                "hours": "pse__Total_Hours__c",
                "amount": "pse__Total_Cost__c",
                "description": "Name",
            },
            n.timecard,
            project_role="project",
            date_role="date",
            amount_role="amount",
        ),
        ObjectStream(
            StreamSpec(
                "expenses",
                _TS,
                "actual",
                "<pse__Expense__c.Id>",
                counts="pse__Include_In_Financials__c = true; leaving that state is a deletion",
                scopes=("project", "period"),
            ),
            "pse__Expense__c",
            {
                **_ACTUAL_ROLES,
                "date": "pse__Expense_Date__c",
                "amount": "pse__Amount__c",
                "type": "pse__Type__c",
                "description": "pse__Description__c",
            },
            n.expense,
            project_role="project",
            date_role="date",
            amount_role="amount",
        ),
        ObjectStream(
            StreamSpec(
                "opportunities",
                _TS,
                "forecast",
                "<Opportunity.Id>; the project is the pse__Proj__c whose pse__Opportunity__c "
                "names it",
                counts="every opportunity (revenue forecast, never actuals)",
            ),
            "Opportunity",
            {
                "name": "Name",
                "amount": "Amount",
                "stage": "StageName",
                "probability": "Probability",
                "close_date": "CloseDate",
                "currency": "CurrencyIsoCode",
            },
            None,
            expand="opportunities",
        ),
    )
}
