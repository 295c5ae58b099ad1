"""The Salesforce connector's streams: which object each reads, its default field roles, how a
row is normalized, what its deletions remove and which states count.

Field roles are the connector's vocabulary (`amount`, `hours`, `project`...); the defaults
below are Certinia PSA's field names and `[connectors.<name>.streams.<stream>] fields` overrides
any of them (`fields = { amount = "My_Cost__c" }`) or unsets an optional one
(`percent_complete = ""`). A stream's `required` roles cannot be unset: without them its
records would be wrong, not just poorer. Certinia field names beyond the project lookup and
status were taken from public metadata dumps (see ../shared/reference/source-apis.md section
1.8): the reader checks them against the org's `describe` before its first query.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pmo_ledger.connectors.base import CursorKind, StreamSpec
from pmo_ledger.connectors.salesforce import normalize as n

_TS: CursorKind = "timestamp"


@dataclass(frozen=True)
class ObjectStream:
    """One stream over one SObject."""

    spec: StreamSpec
    sobject: str
    roles: Mapping[str, str | None]
    normalize: Callable[..., Any] | None
    #: Roles the stream cannot do without (a required field the org lacks stops the stream).
    required: frozenset[str] = frozenset()
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

    def role_names(self) -> set[str]:
        """The roles `fields` may set: the defaults, and portfolio / program of projects."""
        extra = {"portfolio", "program"} if self.name == "projects" else set()
        return set(self.roles) | extra


def _required(*roles: str) -> frozenset[str]:
    return frozenset(roles)


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
            StreamSpec(
                "resource_rates", _TS, "resource_rate", "<Contact.Id>", after=("resources",)
            ),
            "Contact",
            {
                "cost_rate": "pse__Default_Cost_Rate__c",
                "start": "pse__Start_Date__c",
                "currency": "CurrencyIsoCode",
            },
            n.resource_rate,
            _required("cost_rate", "currency"),
            base_where="pse__Is_Resource__c = true",
        ),
        ObjectStream(
            StreamSpec(
                "fx_rates", _TS, external_id="<rate_type>/<corporate>/<IsoCode>/<StartDate>"
            ),
            "DatedConversionRate",
            {"currency": "IsoCode", "rate": "ConversionRate", "start": "StartDate"},
            n.dated_rate,
            _required("currency", "rate", "start"),
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
            _required("currency", "rate"),
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
                after=("projects", "resources"),
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
            _required("project", "start", "end", "hours"),
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
                after=("projects",),
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
            _required("project", "amount", "status", "currency"),
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
            _required("project", "date", "amount", "hours", "counts", "currency"),
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
            _required("project", "date", "amount", "counts", "currency"),
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
            _required("amount", "currency"),
            expand="opportunities",
        ),
    )
}


def role_problems(
    name: str, streams: Mapping[str, Any], *, multi_currency: bool = True
) -> list[str]:
    """What is wrong with the `fields` of `[connectors.<name>.streams.<stream>]` tables
    (`streams`: stream name -> its StreamSettings): a role the stream does not have, or a
    required role unset (""). One line each, naming the key."""
    problems: list[str] = []
    for stream, own in streams.items():
        spec = STREAMS.get(stream)
        if spec is None:
            continue  # unknown streams are refused on their own
        known = spec.role_names()
        for role, path in own.fields.items():
            key = f"connectors.{name}.streams.{stream}.fields.{role}"
            if role not in known:
                problems.append(
                    f"{key}: stream {stream} has no role {role!r} "
                    f"(roles: {', '.join(sorted(known))})"
                )
            elif not path and role in spec.required and (multi_currency or role != "currency"):
                problems.append(
                    f"{key}: stream {stream} needs its {role} field, it cannot be unset; "
                    f'map it to the org\'s field instead ({role} = "Field__c")'
                )
    return problems
