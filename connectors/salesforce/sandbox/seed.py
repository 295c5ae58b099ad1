"""The demo org: a small Certinia PSA org a PMO would recognise, the same on every run.

USD is the corporate currency, with EUR and GBP (CurrencyType rows and monthly
DatedConversionRate rows). Two regions, three practices, three accounts, six opportunities
(one of 12.5 M, served as `1.25E7`), twelve resources and one customer contact, eight
projects (one Completed, one Canceled, one Planned, one with no region), their assignments,
weekly timecards from January to June 2025 (a week that spans a month end is split in two,
as PSA splits at period ends; headers are the sums of their splits), expenses, and budgets
(approved purchase orders, draft internal budgets, a rejected one, one change request).
Some timecards are not Approved or not included in financials. Amounts have cents; hours
come in steps such as 7.5.

The org clock follows the story: records are written week by week, so CreatedDate and
SystemModstamp fall where they would have; the clock ends at 2025-07-01T09:00:00Z.

`dirty=True` adds what a connector must reject or survive: an expense without an amount, a
timecard split without a project, an expense in a currency the ledger does not know (ZZZ),
and an amount written in scientific notation with many digits (12345678.91 -> 1.234567891E7).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from pmo_ledger.connectors.salesforce.sandbox.org import FakeOrg

CENT = Decimal("0.01")
FIRST_WEEK = date(2025, 1, 6)
WEEKS = 25  # to the week of 2025-06-23
END_OF_STORY = datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
_RATES = {  # units per USD, first of each month January..July 2025
    "EUR": ["0.961200", "0.958700", "0.924500", "0.910300", "0.887600", "0.871200", "0.859000"],
    "GBP": ["0.802300", "0.794600", "0.773400", "0.761000", "0.749200", "0.740100", "0.731200"],
}
_RESOURCES = [  # first, last, role, daily-cost rate, region, practice, currency
    ("Amelia", "Hart", "Project Manager", "95.00", "EMEA", "Cloud Migration", "EUR"),
    ("Jonas", "Becker", "Architect", "110.50", "EMEA", "Cloud Migration", "EUR"),
    ("Sofia", "Marino", "Senior Consultant", "85.50", "EMEA", "Data & Analytics", "EUR"),
    ("Oliver", "Grant", "Consultant", "72.25", "EMEA", "Managed Services", "GBP"),
    ("Priya", "Nair", "Analyst", "58.75", "EMEA", "Data & Analytics", "GBP"),
    ("Lucas", "Dubois", "Consultant", "70.00", "EMEA", "Cloud Migration", "EUR"),
    ("Maya", "Chen", "Project Manager", "98.00", "Americas", "Managed Services", "USD"),
    ("Ethan", "Brooks", "Architect", "118.40", "Americas", "Cloud Migration", "USD"),
    ("Grace", "Kim", "Senior Consultant", "88.10", "Americas", "Data & Analytics", "USD"),
    ("Noah", "Rivera", "Consultant", "69.90", "Americas", "Managed Services", "USD"),
    ("Chloe", "Patel", "Analyst", "55.30", "Americas", "Data & Analytics", "USD"),
    ("Liam", "Walsh", "Consultant", "74.60", "Americas", "Cloud Migration", "USD"),
]


class _Project(NamedTuple):
    code: str
    name: str
    region: str | None
    practice: str
    account: int | None
    stage: str
    start: date
    end: date
    currency: str
    team: list[int]  # indexes into _RESOURCES, the project manager first


_PROJECTS = [_Project(*p) for p in [
    ("PRJ-0001", "Acme ERP Cloud Migration", "EMEA", "Cloud Migration", 0, "In Progress",
     date(2025, 1, 6), date(2025, 9, 30), "EUR", [0, 1, 5, 3]),
    ("PRJ-0002", "Acme Data Warehouse", "EMEA", "Data & Analytics", 0, "In Progress",
     date(2025, 2, 3), date(2025, 8, 29), "EUR", [2, 4]),
    ("PRJ-0003", "Globex POS Rollout", "Americas", "Managed Services", 1, "In Progress",
     date(2025, 1, 6), date(2025, 12, 19), "USD", [6, 9, 11]),
    ("PRJ-0004", "Globex Analytics Platform", "Americas", "Data & Analytics", 1, "Planned",
     date(2025, 6, 2), date(2025, 11, 28), "USD", [8, 10]),
    ("PRJ-0005", "Initech Core Banking Upgrade", "EMEA", "Cloud Migration", 2, "In Progress",
     date(2025, 1, 13), date(2025, 10, 31), "GBP", [0, 3, 4]),
    ("PRJ-0006", "Initech Security Assessment", "Americas", "Managed Services", 2, "Completed",
     date(2025, 1, 6), date(2025, 3, 28), "USD", [7, 9]),
    ("PRJ-0007", "Internal Delivery Tooling", None, "Data & Analytics", None, "In Progress",
     date(2025, 2, 17), date(2025, 12, 31), "USD", [10, 11]),
    ("PRJ-0008", "Globex Loyalty App", "Americas", "Cloud Migration", 1, "Canceled",
     date(2025, 2, 3), date(2025, 3, 14), "USD", [7, 8]),
]]  # fmt: skip
_OPPORTUNITIES = [  # account, name, amount, close, stage, probability, project
    (0, "Acme - ERP Cloud Migration", "1840000.00", date(2024, 12, 12), "Closed Won", 100, 0),
    (1, "Globex - POS Rollout", "2275500.00", date(2024, 12, 20), "Closed Won", 100, 2),
    (2, "Initech - Core Banking Upgrade", "3120000.00", date(2025, 1, 8), "Closed Won", 100, 4),
    (1, "Globex - Global Platform Renewal", "12500000.00", date(2025, 9, 30), "Negotiation", 60,
     None),
    (0, "Acme - Supply Chain Analytics", "640000.00", date(2025, 8, 15), "Proposal", 40, None),
    (2, "Initech - Managed SOC", "985000.00", date(2025, 5, 30), "Closed Lost", 0, None),
]  # fmt: skip
_EXPENSE_TYPES = {  # type -> (low, high) amount
    "Airfare": (180, 1450),
    "Lodging": (95, 420),
    "Meals": (12, 95),
    "Ground Transportation": (15, 140),
    "Software": (20, 600),
    "Mileage": (8, 90),
}


@dataclass(slots=True)
class DemoSeed:
    """What `seed_demo` made: ids by project code and resource name, counts per object,
    and the ids of the dirty records (when asked for)."""

    projects: dict[str, str] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    dirty: dict[str, str] = field(default_factory=dict)


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _at(day: date, hour: int = 17) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def _move(org: FakeOrg, when: datetime) -> None:
    if when > org.now():
        org.set_now(when)


def seed_demo(org: FakeOrg, *, dirty: bool = False) -> DemoSeed:
    """Fill an empty multi-currency org with the demo data (see the module docstring)."""
    if not org.multi_currency:
        raise ValueError("the demo org is multi-currency")
    rng = random.Random(20250106)  # noqa: S311 - reproducible demo data, not secrets
    seed = DemoSeed()
    _currencies(org)
    regions = {n: org.insert("pse__Region__c", Name=n) for n in ("EMEA", "Americas")}
    practices = {
        n: org.insert("pse__Practice__c", Name=n)
        for n in ("Cloud Migration", "Data & Analytics", "Managed Services")
    }
    accounts = [
        org.insert("Account", Name=n)
        for n in ("Acme Manufacturing", "Globex Retail", "Initech Financial")
    ]
    for first, last, role, cost_rate, region, practice, currency in _RESOURCES:
        seed.resources[f"{first} {last}"] = org.insert(
            "Contact",
            FirstName=first,
            LastName=last,
            Email=f"{first.lower()}.{last.lower()}@pmo-demo.example",
            pse__Is_Resource__c=True,
            pse__Is_Resource_Active__c=True,
            pse__Resource_Role__c=role,
            pse__Default_Cost_Rate__c=cost_rate,
            pse__Start_Date__c=date(2021 + len(last) % 4, 1 + len(first) % 12, 1),
            pse__Region__c=regions[region],
            pse__Practice__c=practices[practice],
            CurrencyIsoCode=currency,
        )
    org.insert("Contact", FirstName="Dana", LastName="Whitfield", Email="dana@acme.example")
    resources = list(seed.resources.values())
    opportunities: dict[int, str] = {}
    for account, name, amount, close, stage, probability, project_index in _OPPORTUNITIES:
        opp = org.insert(
            "Opportunity",
            Name=name,
            AccountId=accounts[account],
            Amount=amount,
            CloseDate=close,
            StageName=stage,
            Probability=probability,
            IsClosed=stage.startswith("Closed"),
            IsWon=stage == "Closed Won",
        )
        if project_index is not None:
            opportunities[project_index] = opp
    teams: list[list[tuple[str, str, Decimal]]] = []  # per project: (assignment, resource, rate)
    for index, spec in enumerate(_PROJECTS):
        project = org.insert(
            "pse__Proj__c",
            Name=spec.name,
            pse__Project_ID__c=spec.code,
            pse__Start_Date__c=spec.start,
            pse__End_Date__c=spec.end,
            pse__Stage__c="Planned",
            pse__Is_Active__c=True,
            pse__Region__c=regions[spec.region] if spec.region else None,
            pse__Practice__c=practices[spec.practice],
            pse__Project_Manager__c=resources[spec.team[0]],
            pse__Account__c=accounts[spec.account] if spec.account is not None else None,
            pse__Opportunity__c=opportunities.get(index),
            pse__Percent_Hours_Complete__c="0",
            CurrencyIsoCode=spec.currency,
        )
        seed.projects[spec.code] = project
        code, start, end, cur = spec.code, spec.start, spec.end, spec.currency
        members = []
        for member in spec.team:
            rate = Decimal(_RESOURCES[member][3])
            assignment = org.insert(
                "pse__Assignment__c",
                Name=f"{code} - {_RESOURCES[member][0]} {_RESOURCES[member][1]}",
                pse__Project__c=project,
                pse__Resource__c=resources[member],
                pse__Start_Date__c=start,
                pse__End_Date__c=end,
                pse__Scheduled_Hours__c=str(rng.choice([120, 240, 360, 480]) + Decimal("7.5")),
                pse__Status__c="Scheduled",
                pse__Bill_Rate__c=str(_money(rate * Decimal("1.85"))),
                CurrencyIsoCode=cur,
            )
            members.append((assignment, resources[member], rate))
        teams.append(members)
        _budgets(org, rng, project, code, start, cur)
    _weeks(org, rng, seed, teams)
    _move(org, _at(date(2025, 6, 30), 18))
    _progress(org, rng, seed)
    _close_projects(org, seed)
    _move(org, END_OF_STORY)
    if dirty:
        _dirty(org, seed, teams)
    seed.counts = {name: len(org.rows(name, deleted=True)) for name in org.schema}
    return seed


def _currencies(org: FakeOrg) -> None:
    org.insert(
        "CurrencyType", IsoCode="USD", ConversionRate="1", DecimalPlaces=2, IsActive=True,
        IsCorporate=True,
    )  # fmt: skip
    org.insert(
        "DatedConversionRate", IsoCode="USD", ConversionRate="1", StartDate=date(1, 1, 1),
        NextStartDate=date(9999, 12, 31),
    )  # fmt: skip
    for code, rates in _RATES.items():
        org.insert(
            "CurrencyType", IsoCode=code, ConversionRate=rates[-1], DecimalPlaces=2,
            IsActive=True, IsCorporate=False,
        )  # fmt: skip
        for month, rate in enumerate(rates, start=1):
            following = date(2025, month + 1, 1) if month < 12 else date(2026, 1, 1)
            org.insert(
                "DatedConversionRate", IsoCode=code, ConversionRate=rate,
                StartDate=date(2025, month, 1),
                NextStartDate=following if month < len(rates) else date(9999, 12, 31),
            )  # fmt: skip


def _budgets(
    org: FakeOrg, rng: random.Random, project: str, code: str, start: date, cur: str
) -> None:
    amount = Decimal(rng.randrange(180_000, 900_000)) + Decimal(rng.randrange(100)) / 100
    org.insert(
        "pse__Budget__c", Name=f"{code} PO", pse__Project__c=project, pse__Status__c="Approved",
        pse__Type__c="Customer Purchase Order", pse__Amount__c=str(amount),
        pse__Effective_Date__c=start, CurrencyIsoCode=cur,
    )  # fmt: skip
    internal = _money(amount * Decimal("0.62"))
    org.insert(
        "pse__Budget__c", Name=f"{code} Internal", pse__Project__c=project,
        pse__Status__c="Draft" if code != "PRJ-0003" else "Rejected",
        pse__Type__c="Internal Budget", pse__Amount__c=str(internal),
        pse__Effective_Date__c=start, CurrencyIsoCode=cur,
    )  # fmt: skip


def _split(week: date) -> list[tuple[date, date]]:
    """The parts of a Monday..Sunday week, cut at a month end."""
    sunday = week + timedelta(days=6)
    if week.month == sunday.month:
        return [(week, sunday)]
    month_end = date(sunday.year, sunday.month, 1) - timedelta(days=1)
    return [(week, month_end), (month_end + timedelta(days=1), sunday)]


def _weeks(
    org: FakeOrg, rng: random.Random, seed: DemoSeed, teams: list[list[tuple[str, str, Decimal]]]
) -> None:
    number = 0
    for offset in range(WEEKS):
        week = FIRST_WEEK + timedelta(weeks=offset)
        _move(org, _at(week + timedelta(days=4)))
        for spec, members in zip(_PROJECTS, teams, strict=True):
            if spec.stage == "Planned" or not spec.start <= week <= spec.end:
                continue  # a planned project has no time yet
            project, cur = seed.projects[spec.code], spec.currency
            for assignment, resource, rate in members:
                if rng.random() < 0.2:
                    continue  # not on this project this week
                number += 1
                days = [rng.choice([Decimal(0), Decimal(4), Decimal("7.5"), Decimal(8)])
                        for _ in range(5)]  # fmt: skip
                _timecard(org, rng, number, week, offset, days, project, resource, assignment,
                          rate, cur)  # fmt: skip
            if rng.random() < 0.6:
                _expense(org, rng, week, project, rng.choice(members)[1], cur)
        if week.month != (week + timedelta(days=7)).month:
            _move(org, _at(week + timedelta(days=6), 20))  # month end: a project update
            _progress(org, rng, seed)


def _timecard(
    org: FakeOrg, rng: random.Random, number: int, week: date, offset: int,
    days: list[Decimal], project: str, resource: str, assignment: str, rate: Decimal, cur: str,
) -> None:  # fmt: skip
    roll = rng.random()
    if offset >= WEEKS - 2:
        status = "Submitted" if roll < 0.6 else "Saved"
    else:
        status = "Rejected" if roll < 0.03 else "Approved"
    included = status == "Approved" and roll < 0.97
    parts = []
    for first, last in _split(week):
        weekdays = days[(first - week).days : (last - week).days + 1]
        if weekdays:  # a part that is only a weekend gets no split
            hours = sum(weekdays, Decimal(0))
            parts.append((first, last, hours, _money(hours * rate)))
    common = {
        "pse__Project__c": project, "pse__Resource__c": resource,
        "pse__Assignment__c": assignment, "pse__Status__c": status,
        "pse__Include_In_Financials__c": included, "CurrencyIsoCode": cur,
    }  # fmt: skip
    header = org.insert(
        "pse__Timecard_Header__c", Name=f"TC-{number:07d}", pse__Start_Date__c=week,
        pse__End_Date__c=week + timedelta(days=6),
        pse__Total_Hours__c=str(sum((p[2] for p in parts), Decimal(0))),
        pse__Total_Cost__c=str(sum((p[3] for p in parts), Decimal(0))), **common,
    )  # fmt: skip
    for part, (first, last, hours, cost) in enumerate(parts, start=1):
        org.insert(
            "pse__Timecard__c", Name=f"TCS-{number:07d}-{part}", pse__Timecard_Header__c=header,
            pse__Start_Date__c=first, pse__End_Date__c=last, pse__Total_Hours__c=str(hours),
            pse__Total_Cost__c=str(cost), **common,
        )  # fmt: skip


def _expense(
    org: FakeOrg, rng: random.Random, week: date, project: str, resource: str, cur: str
) -> str:
    kind = rng.choice(sorted(_EXPENSE_TYPES))
    low, high = _EXPENSE_TYPES[kind]
    amount = Decimal(rng.randrange(low * 100, high * 100)) / 100
    status = rng.choice(["Approved"] * 8 + ["Submitted", "Draft"])
    currency = cur if rng.random() < 0.85 else rng.choice(["USD", "EUR", "GBP"])
    return org.insert(
        "pse__Expense__c", Name=f"{kind} {week.isoformat()}", pse__Project__c=project,
        pse__Resource__c=resource, pse__Expense_Date__c=week + timedelta(days=rng.randrange(5)),
        pse__Amount__c=str(amount), pse__Type__c=kind, pse__Description__c=f"{kind} for {week}",
        pse__Status__c=status, pse__Include_In_Financials__c=status == "Approved",
        CurrencyIsoCode=currency,
    )  # fmt: skip


def _progress(org: FakeOrg, rng: random.Random, seed: DemoSeed) -> None:
    """Month end: projects under way move to In Progress and report progress."""
    today = org.now().date()
    for spec in _PROJECTS:
        if spec.stage != "Planned" and spec.start <= today <= spec.end:
            done = Decimal(rng.randrange(500, 9500)) / 100
            org.update(
                "pse__Proj__c", seed.projects[spec.code], pse__Stage__c="In Progress",
                pse__Percent_Hours_Complete__c=str(done),
            )  # fmt: skip


def _close_projects(org: FakeOrg, seed: DemoSeed) -> None:
    """The end of the story: the assessment completed, the loyalty app canceled, the ERP
    migration's purchase order raised by a change request."""
    for spec in _PROJECTS:
        if spec.stage in ("Completed", "Canceled"):
            org.update(
                "pse__Proj__c", seed.projects[spec.code], pse__Stage__c=spec.stage,
                pse__Is_Active__c=False,
                pse__Percent_Hours_Complete__c="100" if spec.stage == "Completed" else "38.5",
            )  # fmt: skip
    org.insert(
        "pse__Budget__c", Name="PRJ-0001 CR-1", pse__Project__c=seed.projects["PRJ-0001"],
        pse__Status__c="Approved", pse__Type__c="Customer Purchase Order Change Request",
        pse__Amount__c="125000.00", pse__Effective_Date__c=date(2025, 6, 2),
        CurrencyIsoCode="EUR",
    )  # fmt: skip


def _dirty(org: FakeOrg, seed: DemoSeed, teams: list[list[tuple[str, str, Decimal]]]) -> None:
    project = seed.projects["PRJ-0003"]
    assignment, resource, _rate = teams[2][0]
    week = date(2025, 6, 23)
    common = {"pse__Resource__c": resource, "pse__Status__c": "Approved",
              "pse__Include_In_Financials__c": True}  # fmt: skip
    seed.dirty["expense_without_amount"] = org.insert(
        "pse__Expense__c", Name="Meals (amount missing)", pse__Project__c=project,
        pse__Expense_Date__c=week, pse__Amount__c=None, pse__Type__c="Meals", **common,
    )  # fmt: skip
    header = org.insert(
        "pse__Timecard_Header__c", Name="TC-9999001", pse__Project__c=project,
        pse__Assignment__c=assignment, pse__Start_Date__c=week,
        pse__End_Date__c=week + timedelta(days=6), pse__Total_Hours__c="7.5",
        pse__Total_Cost__c="735.00", **common,
    )  # fmt: skip
    seed.dirty["split_without_project"] = org.insert(
        "pse__Timecard__c", Name="TCS-9999001-1", pse__Timecard_Header__c=header,
        pse__Project__c=None, pse__Start_Date__c=week, pse__End_Date__c=week + timedelta(days=6),
        pse__Total_Hours__c="7.5", pse__Total_Cost__c="735.00", **common,
    )  # fmt: skip
    seed.dirty["expense_unknown_currency"] = org.insert(
        "pse__Expense__c", Name="Lodging (ZZZ)", pse__Project__c=project,
        pse__Expense_Date__c=week, pse__Amount__c="212.40", pse__Type__c="Lodging",
        CurrencyIsoCode="ZZZ", **common,
    )  # fmt: skip
    seed.dirty["expense_scientific_amount"] = org.insert(
        "pse__Expense__c", Name="Software (typo)", pse__Project__c=project,
        pse__Expense_Date__c=week, pse__Amount__c="12345678.91", pse__Type__c="Software",
        **common,
    )  # fmt: skip
