"""A small PSA org for the connector's end-to-end tests, the App that syncs it, and what the
org holds versus what the ledger holds, per project and currency.

Three projects (P1 EUR in EMEA, P2 USD, P3 USD), two resources, timecard splits and expenses
in USD and EUR, one budget per project, monthly dated rates. The org clock is set near this
machine's clock so the delete log's 15-day window means what it means against a real org.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.salesforce.sandbox import FakeOrg, SandboxServer
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.ledger.models import ActualLine, Project

Totals = dict[tuple[str, str], tuple[int, Decimal]]  # (project code, currency) -> (lines, sum)


@dataclass
class PsaOrg:
    """The org and the ids the tests touch."""

    org: FakeOrg
    projects: dict[str, str] = field(default_factory=dict)  # code -> Id
    resources: list[str] = field(default_factory=list)
    timecards: list[str] = field(default_factory=list)
    expenses: list[str] = field(default_factory=list)

    def code_of(self, project_id: str | None) -> str:
        for code, pid in self.projects.items():
            if pid == project_id:
                return code
        return "UNMAPPED"

    def add_timecard(
        self,
        project: str | None,
        hours: str,
        cost: str | None,
        currency: str = "USD",
        day: date = date(2025, 3, 3),
        **extra: Any,
    ) -> str:
        tid = self.org.insert(
            "pse__Timecard__c",
            Name=f"TC-{len(self.timecards) + 1:04d}",
            pse__Project__c=self.projects[project] if project else None,
            pse__Resource__c=self.resources[len(self.timecards) % len(self.resources)],
            pse__Start_Date__c=day,
            pse__End_Date__c=day + timedelta(days=6),
            pse__Total_Hours__c=hours,
            pse__Total_Cost__c=cost,
            pse__Status__c="Approved",
            pse__Include_In_Financials__c=True,
            CurrencyIsoCode=currency,
            **extra,
        )  # fmt: skip
        self.timecards.append(tid)
        return tid

    def add_expense(
        self,
        project: str | None,
        amount: str | None,
        currency: str = "USD",
        day: date = date(2025, 3, 12),
        kind: str = "Airfare",
    ) -> str:
        eid = self.org.insert(
            "pse__Expense__c",
            Name=f"EX-{len(self.expenses) + 1:04d}",
            pse__Project__c=self.projects[project] if project else None,
            pse__Resource__c=self.resources[0],
            pse__Expense_Date__c=day,
            pse__Amount__c=amount,
            pse__Type__c=kind,
            pse__Description__c="client visit",
            pse__Status__c="Approved",
            pse__Include_In_Financials__c=True,
            CurrencyIsoCode=currency,
        )  # fmt: skip
        self.expenses.append(eid)
        return eid

    def source_totals(self, streams: tuple[str, ...] = ("timecards", "expenses")) -> Totals:
        """What the org holds: counting, live timecards and expenses with an amount."""
        out: dict[tuple[str, str], list[Any]] = defaultdict(lambda: [0, Decimal(0)])
        objects = {
            "timecards": ("pse__Timecard__c", "pse__Total_Cost__c"),
            "expenses": ("pse__Expense__c", "pse__Amount__c"),
        }
        for sobject, amount in (objects[s] for s in streams):
            for row in self.org.rows(sobject):
                if row["IsDeleted"] or not row["pse__Include_In_Financials__c"]:
                    continue
                key = (self.code_of(row["pse__Project__c"]), str(row["CurrencyIsoCode"]))
                out[key][0] += 1
                out[key][1] += Decimal(str(row[amount] or 0))
        return {k: (v[0], v[1]) for k, v in out.items()}


def build_org(now: datetime | None = None) -> PsaOrg:
    """The small org, its clock a day before `now` (default: this machine's clock)."""
    start = (now or datetime.now(UTC)) - timedelta(days=1)
    org = FakeOrg(start=start.replace(microsecond=0))
    psa = PsaOrg(org)
    emea = org.insert("pse__Region__c", Name="EMEA")
    cloud = org.insert("pse__Practice__c", Name="Cloud Migration")
    for iso, rate in (("EUR", "0.92"), ("GBP", "0.79")):
        org.insert(
            "CurrencyType",
            IsoCode=iso,
            ConversionRate=rate,
            DecimalPlaces=2,
            IsActive=True,
            IsCorporate=False,
        )
        org.insert(
            "DatedConversionRate",
            IsoCode=iso,
            ConversionRate=rate,
            StartDate=date(2025, 1, 1),
            NextStartDate=None,
        )
    for i in range(2):
        psa.resources.append(
            org.insert(
                "Contact",
                FirstName="Res",
                LastName=f"Source{i}",
                pse__Is_Resource__c=True,
                pse__Is_Resource_Active__c=True,
                pse__Default_Cost_Rate__c="80.00",
                pse__Start_Date__c=date(2024, 1, 1),
                CurrencyIsoCode="USD",
            )
        )
    for code, region, ccy in (("P1", emea, "EUR"), ("P2", None, "USD"), ("P3", None, "USD")):
        psa.projects[code] = org.insert(
            "pse__Proj__c",
            Name=f"Project {code}",
            pse__Project_ID__c=code,
            pse__Region__c=region,
            pse__Practice__c=cloud,
            pse__Stage__c="In Progress",
            pse__Start_Date__c=date(2025, 1, 6),
            pse__End_Date__c=date(2025, 12, 19),
            CurrencyIsoCode=ccy,
        )
        org.insert(
            "pse__Budget__c",
            Name=f"PO {code}",
            pse__Project__c=psa.projects[code],
            pse__Status__c="Approved",
            pse__Type__c="Customer Purchase Order",
            pse__Amount__c="50000.00",
            pse__Effective_Date__c=date(2025, 1, 6),
            CurrencyIsoCode=ccy,
        )
    for i in range(8):
        psa.add_timecard(
            ("P1", "P2", "P3")[i % 3],
            "7.5",
            f"{600 + i}.25",
            "EUR" if i % 3 == 0 else "USD",
            day=date(2025, 3, 3) + timedelta(7 * i),
        )
    for i in range(4):
        psa.add_expense(("P1", "P2")[i % 2], f"{120 + i}.40", "EUR" if i % 2 == 0 else "USD")
    return psa


def sandbox_app(
    engine: Engine,
    tmp_path: Path,
    server: SandboxServer,
    ledger_extra: dict[str, Any] | None = None,
    **settings: Any,
) -> App:
    """An App whose one connector `crm` reads the sandbox; `settings` override the kind's."""
    user = server.user
    connector: dict[str, Any] = {
        "kind": "salesforce",
        "lookback": "15m",
        "login_url": server.login_url,
        "username": user.username,
        "password": user.password,
        "security_token": user.security_token,
        "ca_bundle": str(server.ca_file),
        "max_retries": 0,
        "bulk_threshold": 0,
    }
    connector.update(settings)
    ledger = {
        "url": engine.url.render_as_string(hide_password=False),
        "base_currency": "USD",
        "rate_sources": ["crm", "manual"],
        "max_rate_age": "400d",
        **(ledger_extra or {}),
    }
    return App(
        parse_config({"ledger": ledger, "connectors": {"crm": connector}}, {}, tmp_path),
        None,
        _engine=engine,
    )


def ledger_totals(app: App, streams: tuple[str, ...] = ("timecards", "expenses")) -> Totals:
    """Live lines of `crm` per (project code, currency): count and sum of amounts."""
    with app.reading() as s:
        rows = s.execute(
            select(Project.code, ActualLine.currency, func.count(), func.sum(ActualLine.amount))
            .join(Project, Project.id == ActualLine.project_id)
            .where(
                ActualLine.source == "crm",
                ActualLine.stream.in_(streams),
                ActualLine.deleted_at.is_(None),
            )
            .group_by(Project.code, ActualLine.currency)
        ).all()
    return {(code, ccy): (n, total or Decimal(0)) for code, ccy, n, total in rows}
