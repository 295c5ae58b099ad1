"""A live run on PostgreSQL runs the rules that return Findings on a second connection while
its own computes the rendered ones: the same variances as one connection, the path taken only
when the run's transaction has written nothing, and an error on the second connection raised
by the run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

import ledger.reconcile as reconcile_module
from ledger.models import Variance
from tests.builders import actual, load
from tests.ledger.reconcile.portfolio import CFG, NOW, base_portfolio, rules, run

STORED = ("rule", "subject_type", "subject_id", "dimension", "period", "severity", "message",
          "measures", "thresholds", "project_id", "status")  # fmt: skip


def stored(session: Session) -> list[tuple[Any, ...]]:
    rows = session.execute(select(*(getattr(Variance, c) for c in STORED))).all()
    return sorted((*r[:7], repr(r[7]), repr(r[8]), *r[9:]) for r in rows)


@pytest.fixture
def aside_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The rule names each run handed to the second connection."""
    calls: list[list[str]] = []
    real = reconcile_module._run_aside

    def spy(ctx: Any, names: list[str]) -> Any:
        calls.append(list(names))
        return real(ctx, names)

    monkeypatch.setattr(reconcile_module, "_run_aside", spy)
    return calls


def portfolio_with_quality_findings(session: Session) -> None:
    """The budget portfolio (budget_overrun, burn_rate: rendered) plus an unmapped line and a
    negative-hours line (data_quality: a Findings rule)."""
    base_portfolio(session)
    load(session, [actual("U1", "75.00", project_ref="NOPE", posted_on=date(2025, 10, 8))],
         cfg=CFG, at=NOW)  # fmt: skip
    load(session, [actual("N1", "10.00", project_ref="P1", posted_on=date(2025, 10, 9),
                          hours=Decimal("-3"))], cfg=CFG, at=NOW)  # fmt: skip


def test_second_connection_stores_what_one_connection_stores(
    session: Session, aside_runs: list[list[str]]
) -> None:
    portfolio_with_quality_findings(session)
    cfg = rules()
    serial = run(session, cfg, parallel=False)
    one_connection = stored(session)
    assert aside_runs == []
    session.query(Variance).delete()
    session.commit()

    parallel = run(session, cfg)
    postgres = session.get_bind().dialect.name == "postgresql"
    assert aside_runs == (
        [["forecast_overrun", "hours_overrun", "over_allocation", "under_utilization",
          "data_quality"]] if postgres else []
    )  # fmt: skip
    assert stored(session) == one_connection
    assert parallel.counts == serial.counts
    quality = [f for f in serial.findings or [] if f.rule == "data_quality"]
    assert sorted((f.subject_id, f.dimension) for f in quality) == [
        ("P1", "negative_hours"), ("psa", "quarantine:actuals"), ("psa", "unmapped"),
    ]  # fmt: skip
    assert serial.counts["budget_overrun"] >= 1
    assert sorted(f.key for f in parallel.findings or []) == sorted(
        f.key for f in serial.findings or []
    )
    assert parallel.lifecycle is not None and parallel.lifecycle.opened == len(one_connection)


def test_a_run_after_writes_in_its_transaction_stays_on_one_connection(
    session: Session, aside_runs: list[list[str]]
) -> None:
    """The second connection would not see the transaction's own writes: the uncommitted
    unmapped line must still be found."""
    base_portfolio(session)
    load(session, [actual("U2", "40.00", project_ref="GONE", posted_on=date(2025, 10, 8))],
         cfg=CFG, at=NOW, commit=False)  # fmt: skip
    result = run(session, rules())
    assert aside_runs == []
    unmapped = [f for f in result.findings or [] if f.rule == "data_quality"]
    assert {(f.subject_id, f.dimension): f.measures for f in unmapped} == {
        ("psa", "quarantine:actuals"): {"entries": 1},
        ("psa", "unmapped"): {"lines": 1, "base_amount": "40.00"},
    }


def test_an_error_on_the_second_connection_fails_the_run(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    portfolio_with_quality_findings(session)

    def broken(ctx: Any) -> Any:
        raise RuntimeError("data_quality broke")

    monkeypatch.setitem(reconcile_module.RULE_FUNCTIONS, "data_quality", broken)
    with pytest.raises(RuntimeError, match="data_quality broke"):
        run(session, rules())
    session.rollback()
    assert session.query(Variance).count() == 0
    engine = session.get_bind()
    session.close()
    assert engine.pool.checkedout() == 0  # type: ignore[union-attr]


def test_a_repeatable_read_run_stays_on_one_connection(
    engine: Engine, aside_runs: list[list[str]]
) -> None:
    """A second connection would read newer data than the run's snapshot."""
    with Session(engine) as s:
        portfolio_with_quality_findings(s)
    level = "REPEATABLE READ" if engine.dialect.name == "postgresql" else "SERIALIZABLE"
    with Session(engine.execution_options(isolation_level=level)) as s:
        result = run(s, rules())
    assert aside_runs == []
    assert result.counts["data_quality"] == 3
