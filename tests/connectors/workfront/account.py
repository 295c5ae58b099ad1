"""The fake Workfront account of the connector's end-to-end tests, the App that syncs it, and
what the account holds versus what the ledger holds, per project and currency.

The account is the sandbox's demo seed (8 projects in EUR, USD, GBP and one with a null
currency, approved, submitted and rejected hours, three costed projects, general time with
no project, expenses, a cross-project predecessor) with fewer hours, served over HTTPS on
127.0.0.1 in pages of `PAGE_SIZE` rows, so every read pages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.workfront.sandbox import DemoSeed, FakeWorkfront, WorkfrontSandbox
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.ledger.models import ActualLine

#: Rows per search page the connector asks for (the seed's ~300 hours take several pages).
PAGE_SIZE = 50
APPROVED = "APP"
CENT = Decimal("0.01")
#: (project ref or None, currency) -> [hours, labor cost, expense amount, lines]
Totals = dict[tuple[str | None, str], tuple[Decimal, Decimal, Decimal, int]]


@dataclass
class Account:
    """The served account and what its seed made."""

    store: FakeWorkfront
    seed: DemoSeed
    server: WorkfrontSandbox

    def project(self, code: str) -> str:
        """A seeded project's ID by its PSA code or name."""
        return self.seed.projects[code]

    def approved_hours(self) -> list[str]:
        return [r["ID"] for r in self.store.rows("HOUR") if r.get("status") == APPROVED]  # type: ignore[misc]

    def source_totals(self, default_currency: str = "USD") -> Totals:
        """What the account holds that counts: approved hours with a number of hours and a
        date (cost: actualCost in the project's currency, else hours x the owner's
        costPerHour, else the role's, in the default currency, rounded per line) and
        expenses with an amount and a date (in the project's currency)."""
        currency = {r["ID"]: r.get("currency") or default_currency for r in self.store.rows("PROJ")}
        user_rate = {r["ID"]: r.get("costPerHour") for r in self.store.rows("USER")}
        role_rate = {r["ID"]: r.get("costPerHour") for r in self.store.rows("ROLE")}
        out: dict[tuple[Any, str], list[Any]] = defaultdict(
            lambda: [Decimal(0), Decimal(0), Decimal(0), 0]
        )
        for row in self.store.rows("HOUR"):
            hours = row.get("hours")
            if row.get("status") != APPROVED or row.get("entryDate") is None:
                continue
            if not isinstance(hours, Decimal | int) or isinstance(hours, bool):
                continue
            project = row.get("projectID")
            cost = row.get("actualCost")
            if isinstance(cost, Decimal):
                ccy = currency.get(project, default_currency) if project else default_currency
            else:
                rate = user_rate.get(row.get("ownerID")) or role_rate.get(row.get("roleID"))
                assert isinstance(rate, Decimal), f"no rate for hour {row['ID']}"
                cost = (Decimal(hours) * rate).quantize(CENT, ROUND_HALF_UP)
                ccy = default_currency
            group = out[(project, ccy)]
            group[0] += Decimal(hours)
            group[1] += cost
            group[3] += 1
        for row in self.store.rows("EXPNS"):
            amount = row.get("actualAmount")
            if not isinstance(amount, Decimal) or row.get("effectiveDate") is None:
                continue
            project = row.get("projectID")
            group = out[(project, currency.get(project, default_currency))]
            group[2] += amount
            group[3] += 1
        return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}


def wf_app(
    engine: Engine, tmp_path: Path, account: Account, ledger: dict[str, Any] | None = None,
    **settings: Any,
) -> App:  # fmt: skip
    """An App whose one connector `wf` reads the account; `settings` override the kind's."""
    server = account.server
    connector: dict[str, Any] = {
        "kind": "workfront",
        "lookback": "15m",
        "base_url": server.url,
        "api_key": server.user.api_key,
        "ca_bundle": str(server.ca_file),
        "page_size": PAGE_SIZE,
        "max_attempts": 3,
    }
    connector.update(settings)
    for key in [k for k, v in connector.items() if v is None]:
        del connector[key]
    table = {
        "url": engine.url.render_as_string(hide_password=False),
        "base_currency": "USD",
        **(ledger or {}),
    }
    return App(
        parse_config({"ledger": table, "connectors": {"wf": connector}}, {}, tmp_path),
        None,
        _engine=engine,
    )


def ledger_totals(app: App) -> Totals:
    """Live hours and expense lines of `wf` per (project ref, currency): hours, labor cost,
    expense amount, lines."""
    with app.reading() as s:
        rows = s.execute(
            select(
                ActualLine.project_ref,
                ActualLine.currency,
                ActualLine.stream,
                func.coalesce(func.sum(ActualLine.hours), 0),
                func.coalesce(func.sum(ActualLine.amount), 0),
                func.count(),
            )
            .where(ActualLine.source == "wf", ActualLine.deleted_at.is_(None))
            .group_by(ActualLine.project_ref, ActualLine.currency, ActualLine.stream)
        ).all()
    out: dict[tuple[Any, str], list[Any]] = defaultdict(
        lambda: [Decimal(0), Decimal(0), Decimal(0), 0]
    )
    for project, currency, stream, hours, amount, lines in rows:
        group = out[(project, currency)]
        if stream == "hours":
            group[0] += Decimal(hours)
            group[1] += Decimal(amount)
        else:
            group[2] += Decimal(amount)
        group[3] += lines
    return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}
