"""Budget lines under the operator actions and rates: FX arrival, authority apply, merge."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger.admin import authority_apply, project_merge
from pmo_ledger.ledger.models import BudgetEntry, BudgetLine, Project
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, FxRateRecord, ProjectRecord
from pmo_ledger.ledger.settings import AuthoritySettings
from tests.builders import T0, load, settings


def _budget(currency: str = "USD", amount: str = "900.00", project: str = "a1") -> BudgetRecord:
    return BudgetRecord(
        external_id=f"b-{project}",
        project_ref=project,
        kind="current",
        effective_from=date(2025, 10, 1),
        lines=(
            BudgetLineRecord(
                external_id="L1",
                amount=Decimal(amount),
                currency=currency,
                cost_type="labor",
                period="2025-10",
            ),
        ),
    )


def _projects(session: Session, *codes: str) -> dict[str, int]:
    load(
        session,
        [ProjectRecord(external_id=f"a{i}", code=c, name=c) for i, c in enumerate(codes, 1)],
        stream="projects",
        at=T0,
    )
    return dict(
        session.execute(select(Project.code, Project.id).where(Project.code.in_(codes))).all()
    )


def _entries_match(session: Session) -> None:
    """Every budget line's entries sum to its live values."""
    for bl in session.scalars(select(BudgetLine)):
        sums = session.execute(
            select(func.sum(BudgetEntry.amount_delta), func.sum(BudgetEntry.base_delta)).where(
                BudgetEntry.budget_line_id == bl.id
            )
        ).one()
        live = bl.deleted_at is None
        assert (sums[0] or 0, sums[1] or 0) == (
            bl.amount if live else 0,
            (bl.base_amount or 0) if live else 0,
        )


def _view_budget(session: Session, code: str) -> Decimal:
    return Decimal(
        session.execute(
            text("SELECT budget FROM v_project_budget_vs_actual WHERE project_code = :c"),
            {"c": code},
        ).scalar_one()
    )


def test_rate_arriving_converts_a_waiting_budget_line(session: Session) -> None:
    """A EUR budget line waits without base amount; the rate adds one fx_convert budget entry."""
    _projects(session, "P1")
    load(session, [_budget("EUR", "1000.00")], stream="budgets", deletion_kind="budget", at=T0)
    assert session.scalars(select(BudgetLine.base_amount)).one() is None
    result = load(
        session,
        [
            FxRateRecord(
                from_ccy="EUR", to_ccy="USD", valid_from=date(2025, 10, 1), rate=Decimal("1.0850")
            )
        ],
        source="manual",
        stream="fx",
        at=T0 + timedelta(hours=1),
    )
    assert result.budget_fx == {"fx_convert": 1, "fx_restate": 0}
    assert session.scalars(select(BudgetEntry.reason).order_by(BudgetEntry.id)).all() == [
        "insert",
        "fx_convert",
    ]
    assert _view_budget(session, "P1") == Decimal("1085.00")
    _entries_match(session)


def test_authority_apply_reclasses_budget_lines(session: Session) -> None:
    """Moving the budget authority away from psa stops its budget counting, with reclass entries."""
    _projects(session, "P1")
    load(session, [_budget()], stream="budgets", deletion_kind="budget", at=T0)
    assert _view_budget(session, "P1") == Decimal("900.00")
    moved = settings(
        authority=AuthoritySettings(
            projects="psa", labor="psa", expense="psa", hours="psa", revenue="psa", budget="sap"
        )
    )
    result = authority_apply(session, moved)
    session.commit()
    assert result["budget_lines"] == 1
    assert _view_budget(session, "P1") == Decimal("0")
    assert session.scalars(select(BudgetEntry.reason).order_by(BudgetEntry.id)).all() == [
        "insert",
        "reclass",
        "reclass",
    ]
    _entries_match(session)


def test_project_merge_moves_budget_lines_with_remap_entries(session: Session) -> None:
    """Merging P2 into P1 moves P2's budget with remap entries; P2 leaves the view."""
    ids = _projects(session, "P1", "P2")
    load(
        session,
        [_budget(project="a1"), _budget(amount="100.00", project="a2")],
        stream="budgets",
        deletion_kind="budget",
        at=T0,
    )
    moved = project_merge(session, settings(), "P1", "P2")
    session.commit()
    assert moved["budget_lines"] == 1
    assert _view_budget(session, "P1") == Decimal("1000.00")
    assert session.get(Project, ids["P2"]).merged_into_id == ids["P1"]
    assert (
        session.execute(
            text("SELECT count(*) FROM v_project_budget_vs_actual WHERE project_code = 'P2'")
        ).scalar()
        == 0
    )
    _entries_match(session)


def test_an_older_budget_version_never_overwrites_a_newer_one(session: Session) -> None:
    """A late page with an older version of a budget leaves the newer one in place."""
    _projects(session, "P1")
    newer = BudgetRecord(
        external_id="b-a1", project_ref="a1", kind="current", effective_from=date(2025, 10, 1),
        source_modified_at=T0 + timedelta(hours=2),
        lines=(BudgetLineRecord(external_id="L1", amount=Decimal("900.00"), currency="USD",
                                cost_type="labor", period="2025-10"),),
    )
    older = BudgetRecord(
        external_id="b-a1", project_ref="a1", kind="current", effective_from=date(2025, 10, 1),
        source_modified_at=T0 + timedelta(hours=1),
        lines=(BudgetLineRecord(external_id="L1", amount=Decimal("500.00"), currency="USD",
                                cost_type="labor", period="2025-10"),),
    )
    load(session, [newer], stream="budgets", deletion_kind="budget", at=T0)
    result = load(session, [older], stream="budgets", deletion_kind="budget", at=T0 + timedelta(hours=3))
    assert (result.stats.unchanged, _view_budget(session, "P1")) == (1, Decimal("900.00"))
