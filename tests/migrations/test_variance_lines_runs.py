"""v_variance_lines (migration 0011) for variances over a run of periods: the lines of every
period from the first to `measures.last_period`, and a source_disagreement variance's lines of
its two sources (and cost types). The downgrade restores 0004's view (the first period only, no
line for a pair). SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pmo_ledger.ledger import migrate
from tests.ledger.reconcile.portfolio import base_portfolio
from tests.migrations.test_analyst_views import extra_lines, variance, view


def _variances(session: Session) -> dict[int, str]:
    """P1 labor over budget in 2025-09..2025-11 (one variance keyed 2025-09); P1 travel in
    2025-10 with no last_period (a variance stored before runs); psa vs erp labor apart in
    2025-10..2025-11; erp vs sap (any cost type) in 2025-09..2025-10."""
    keys = {
        "labor_run": (("budget_overrun", "project", "P1", "labor", "2025-09"),
                      {"through": "2025-11", "last_period": "2025-11"}),
        "travel_one": (("budget_overrun", "project", "P1", "travel", "2025-10"), None),
        "psa_erp": (("source_disagreement", "project", "P1", "psa~erp:labor", "2025-10"),
                    {"last_period": "2025-11"}),
        "erp_sap": (("source_disagreement", "project", "P1", "erp~sap", "2025-09"),
                    {"last_period": "2025-10"}),
    }  # fmt: skip
    ids = {
        variance(session, key, "open", "high", measures, project="P1"): name
        for name, (key, measures) in keys.items()
    }
    session.commit()
    return ids


def _lines(session: Session, ids: dict[int, str]) -> dict[str, list[tuple[str, str, str]]]:
    """Per variance: (source/external_id, period, through_period) of its lines."""
    out: dict[str, list[tuple[str, str, str]]] = {name: [] for name in ids.values()}
    for r in view(session, "SELECT * FROM v_variance_lines ORDER BY source, external_id"):
        out[ids[r["variance_id"]]].append(
            (f"{r['source']}/{r['external_id']}", r["period"], r["through_period"])
        )
    return out


def test_a_run_of_periods_lists_the_lines_of_all_its_periods(session: Session) -> None:
    """Counting labor of P1 in 09..11: A1 (09), A2 (10), H1 (11); erp's E9 does not count and
    D1 is deleted. Travel in 10 alone: A3. psa~erp:labor in 10..11: A2, H1 and erp's E9, not
    the travel line A3 nor R1 (revenue). erp~sap in 09..10: erp's E9 only."""
    base_portfolio(session)
    extra_lines(session)
    ids = _variances(session)
    assert _lines(session, ids) == {
        "labor_run": [("psa/A1", "2025-09", "2025-11"), ("psa/A2", "2025-10", "2025-11"),
                      ("psa/H1", "2025-11", "2025-11")],
        "travel_one": [("psa/A3", "2025-10", "2025-10")],
        "psa_erp": [("erp/E9", "2025-10", "2025-11"), ("psa/A2", "2025-10", "2025-11"),
                    ("psa/H1", "2025-11", "2025-11")],
        "erp_sap": [("erp/E9", "2025-10", "2025-10")],
    }  # fmt: skip


def test_the_downgrade_restores_the_first_period_view(engine: Engine, session: Session) -> None:
    """Down to 0010 (0004's view): the labor run lists its first period's line only and the
    pairs none; up again, every period's."""
    base_portfolio(session)
    extra_lines(session)
    ids = _variances(session)
    session.close()
    try:
        migrate.downgrade(engine, "0010")
        assert _lines(session, ids) == {
            "labor_run": [("psa/A1", "2025-09", "2025-09")],
            "travel_one": [("psa/A3", "2025-10", "2025-10")],
            "psa_erp": [],
            "erp_sap": [],
        }
        session.close()
    finally:
        migrate.upgrade(engine)
    assert [line for line, _, _ in _lines(session, ids)["labor_run"]] == [
        "psa/A1", "psa/A2", "psa/H1"
    ]
