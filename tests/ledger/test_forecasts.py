"""Revenue forecasts (rule 11): weighted amounts, FX, quarantine, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.fx.rates import upsert_rates
from pmo_ledger.ledger.models import UNMAPPED_ID, ActualLine, Project, RevenueForecast
from pmo_ledger.ledger.quarantine import Held
from pmo_ledger.ledger.records import ProjectRecord, RevenueForecastRecord
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.forecasts import apply_forecasts
from pmo_ledger.ledger.write.structure import apply_projects

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


def ctx(session: Session, at: datetime = T0) -> WriteContext:
    """A 'psa' batch context, USD base, manual rates."""
    settings = LedgerSettings(rate_sources=["manual"], base_currency="USD")
    return WriteContext(session, settings, "psa", recorded_at=at)


def opportunity(
    external_id: str = "o1", amount: str = "12345.67", **kw: Any
) -> RevenueForecastRecord:
    """A USD opportunity of project 'a1' at 35%, closing 2025-06-30."""
    values: dict[str, Any] = {
        "project_ref": "a1",
        "name": f"Deal {external_id}",
        "currency": "USD",
        "probability": Decimal("35"),
        "close_date": date(2025, 6, 30),
        "stage": "Proposal",
    } | kw
    return RevenueForecastRecord(external_id=external_id, amount=Decimal(amount), **values)


def apply(
    session: Session,
    records: list[RevenueForecastRecord],
    deletions: list[str] | None = None,
    *,
    at: datetime = T0,
    held: list[Held] | None = None,
) -> None:
    """Apply opportunities of 'psa' stream 'opportunities'."""
    apply_forecasts(
        ctx(session, at),
        "opportunities",
        records,
        deletions or [],
        held=[] if held is None else held,
    )


def forecast(session: Session, external_id: str = "o1") -> RevenueForecast:
    """The stored forecast row of a key."""
    return session.execute(
        select(RevenueForecast).where(RevenueForecast.external_id == external_id)
    ).scalar_one()


@pytest.fixture
def p1(session: Session) -> int:
    """Project P1, source key 'a1'."""
    record = ProjectRecord(external_id="a1", code="P1", name="Project P1")
    apply_projects(ctx(session), "projects", [record], held=[])
    return session.execute(select(Project.id).where(Project.code == "P1")).scalar_one()


def test_weighted_amount_is_rounded_half_up(session: Session, p1: int) -> None:
    """12345.67 at 35% weighs 4320.98 (4320.9845 rounded half up to cents)."""
    apply(session, [opportunity()])
    exact = Decimal("12345.67") * Decimal("0.35")
    assert exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == Decimal("4320.98")
    row = forecast(session)
    assert (row.weighted_amount, row.base_amount, row.base_weighted_amount) == (
        Decimal("4320.9800"),
        Decimal("12345.6700"),
        Decimal("4320.9800"),
    )
    assert (row.project_id, row.counts) == (p1, True)


def test_forecasts_never_become_actuals(session: Session, p1: int) -> None:
    """Opportunities write revenue_forecast rows and no actual_line."""
    apply(session, [opportunity()])
    assert session.execute(select(func.count()).select_from(ActualLine)).scalar() == 0


def test_forecast_converts_with_the_close_date_rate(session: Session, p1: int) -> None:
    """A EUR 1000.00 at 50% closing in June converts at the June rate 1.0850."""
    upsert_rates(
        session,
        "manual",
        [
            ("corporate", "EUR", "USD", date(2025, 1, 1), Decimal("1.0400")),
            ("corporate", "EUR", "USD", date(2025, 6, 1), Decimal("1.0850")),
        ],
        T0,
    )
    apply(session, [opportunity(amount="1000.00", currency="EUR", probability=Decimal("50"))])
    row = forecast(session)
    assert (row.rate, row.weighted_amount, row.base_amount, row.base_weighted_amount) == (
        Decimal("1.08500000"),
        Decimal("500.0000"),
        Decimal("1085.0000"),
        Decimal("542.5000"),
    )


def test_forecast_without_a_rate_waits_with_no_base_amount(session: Session, p1: int) -> None:
    """Without any EUR rate the base amounts stay NULL (a missing rate is never 1)."""
    apply(session, [opportunity(currency="EUR")])
    row = forecast(session)
    assert (row.rate, row.base_amount, row.base_weighted_amount) == (None, None, None)


def test_invalid_forecasts_are_held_while_the_rest_load(session: Session, p1: int) -> None:
    """Bad probability, unknown currency, NaN and huge amounts are held; the good one loads."""
    held: list[Held] = []
    apply(
        session,
        [
            opportunity("x1", probability=Decimal("120")),
            opportunity("x2", currency="ZZZ"),
            opportunity("x3", amount="NaN"),
            opportunity("x4", amount="1000000000000000"),
            opportunity("ok"),
        ],
        held=held,
    )
    assert {h.external_id: h.reason for h in held} == {
        "x1": "bad_probability",
        "x2": "unknown_currency",
        "x3": "bad_number",
        "x4": "amount_out_of_range",
    }
    assert list(session.execute(select(RevenueForecast.external_id)).scalars()) == ["ok"]


def test_unmapped_forecast_loads_under_unmapped_not_counting(session: Session) -> None:
    """An opportunity of an unknown project loads under UNMAPPED, not counting, and is held."""
    held: list[Held] = []
    apply(session, [opportunity()], held=held)
    row = forecast(session)
    assert [(h.external_id, h.reason) for h in held] == [("o1", "unmapped")]
    assert (row.project_id, row.counts) == (UNMAPPED_ID, False)


def test_forecast_replay_changes_nothing(session: Session, p1: int) -> None:
    """Replaying an opportunity keeps its updated_at."""
    apply(session, [opportunity()])
    apply(session, [opportunity()], at=T1)
    assert forecast(session).updated_at == T0


def test_forecast_change_updates_the_row(session: Session, p1: int) -> None:
    """A new probability updates the weighted amount in place."""
    apply(session, [opportunity()])
    apply(session, [opportunity(probability=Decimal("60"))], at=T1)
    row = forecast(session)
    assert (row.weighted_amount, row.updated_at, row.created_at) == (Decimal("7407.4000"), T1, T0)


def test_forecast_deletion_sets_deleted_at(session: Session, p1: int) -> None:
    """A deleted opportunity keeps its row with deleted_at set."""
    apply(session, [opportunity()])
    apply(session, [], ["o1"], at=T1)
    assert forecast(session).deleted_at == T1
