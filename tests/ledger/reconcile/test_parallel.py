"""A live run on PostgreSQL runs the rules other than the budget rules on a second connection
while its own computes the budget rules: the same variances as one connection (rows a rendered
rule selects there arrive by COPY, exactly), the path taken only when the run's transaction has
written nothing, and an error on the second connection (a rule's, its COPY's, a lost connection)
raised by the run."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, literal_column, select, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

import pmo_ledger.ledger.reconcile.run as reconcile_module
from pmo_ledger.ledger.db import make_engine
from pmo_ledger.ledger.models import Project, Variance
from pmo_ledger.ledger.reconcile.rendered import STAGE_COLUMNS, Rendered
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.builders import actual, load
from tests.conftest import _empty_postgres
from tests.ledger.reconcile.portfolio import (
    CFG,
    NOW,
    base_portfolio,
    link,
    projects,
    rules,
    run,
    spend,
)

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
          "source_disagreement", "data_quality", "released_overrun"]] if postgres else []
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


#: A code with what COPY's text format escapes (tab, newline, backslash) and what SQL and the
#: driver treat apart (quote, percent), and text beyond ASCII.
ODD = "Q\t1\\x\n'%s%%é"


def test_the_second_connection_starts_no_parallel_workers(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the rules on the second connection run with max_parallel_workers_per_gather
    0 (both connections already use the cores); the run's own connection keeps its setting.
    SQLite: every rule runs on the run's connection."""
    portfolio_with_quality_findings(session)
    postgres = session.get_bind().dialect.name == "postgresql"
    workers = text("SELECT current_setting('max_parallel_workers_per_gather')")
    seen: list[tuple[bool, str | None]] = []
    real = reconcile_module.RULE_FUNCTIONS["data_quality"]

    def recording(ctx: Any) -> Any:
        seen.append((ctx.session is session, ctx.session.scalar(workers) if postgres else None))
        return real(ctx)

    monkeypatch.setitem(reconcile_module.RULE_FUNCTIONS, "data_quality", recording)
    before = session.scalar(workers) if postgres else None
    run(session, rules())
    run(session, rules(), parallel=False)
    assert seen == ([(False, "0"), (True, before)] if postgres else [(True, None), (True, None)])
    assert before != "0"


def test_rows_of_a_rendered_rule_on_the_second_connection_arrive_exactly(
    session: Session, aside_runs: list[list[str]]
) -> None:
    """source_disagreement, rendered in SQL, runs on the second connection on PostgreSQL: its
    rows are copied as COPY text to the run's connection. psa 1,000.00 vs erp 1,300.00 labor in
    2025-10 on the odd code's project and on Q2 (300.00 apart, 23.0769% of the larger): high
    above 20%, but medium for the odd code, whose override puts high at 30% (the override's
    project list is written into the statement). The stored variances are one connection's,
    character for character."""
    ensure_periods(session, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
    projects(session, ODD, "Q2")
    ids: dict[str, int] = {code: pid for code, pid in session.query(Project.code, Project.id)}
    for code in (ODD, "Q2"):
        link(session, "erp", code)
        spend(session, f"S-{code}", code, "labor", date(2025, 10, 3), "1000.00")
        load(session, [actual(f"E-{code}", "1300.00", project_ref=code, cost_type="labor",
                              posted_on=date(2025, 10, 4))],
             source="erp", cfg=CFG, at=NOW)  # fmt: skip
    session.commit()
    cfg = rules(
        [{"project": ODD, "rule": "source_disagreement", "high_pct": "30"}],
        source_disagreement={
            "amount": 100, "pairs": [{"left": "psa", "right": "erp", "cost_types": ["labor"]}]},
    )  # fmt: skip
    run(session, cfg, parallel=False)
    one_connection = stored(session)
    session.query(Variance).delete()
    session.commit()

    result = run(session, cfg)
    postgres = session.get_bind().dialect.name == "postgresql"
    assert ["source_disagreement" in names for names in aside_runs] == ([True] if postgres else [])
    assert stored(session) == one_connection
    found = {
        v.subject_id: v
        for v in session.query(Variance).filter(Variance.rule == "source_disagreement")
    }
    assert sorted(found) == sorted([ODD, "Q2"])
    measures = {"left": "1000.00", "right": "1300.00", "gap": "300.00", "gap_pct": "23.0769",
                "left_source": "psa", "right_source": "erp", "last_period": "2025-10"}  # fmt: skip
    for code, severity, high_pct in ((ODD, "medium", "30"), ("Q2", "high", "20")):
        v = found[code]
        assert (v.dimension, v.period, v.severity, v.project_id) == (
            "psa~erp:labor", "2025-10", severity, ids[code]
        )  # fmt: skip
        assert v.message == f"{code} in 2025-10: psa 1000.00 vs erp 1300.00 (300.00 apart, 23.0769%)"
        assert v.measures == measures
        assert v.thresholds == {"pct": "5", "amount": "100", "high_pct": high_pct,
                                "high_amount": "0"}
    assert result.counts["source_disagreement"] == 2
    # A run scoped to Q2 (its id written into the copied statement) finds Q2's alone and
    # leaves the odd code's variance open.
    scoped = run(session, cfg, project="Q2")
    assert len(aside_runs) == (2 if postgres else 0)
    assert [f.subject_id for f in scoped.findings or [] if f.rule == "source_disagreement"] == [
        "Q2"
    ]
    session.refresh(found[ODD])
    assert found[ODD].status == "open"


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


def _raises(ctx: Any) -> Any:
    raise RuntimeError("data_quality broke")


def _fails_in_sql(ctx: Any) -> Any:
    return Rendered((select(*[literal_column("no_such_column")] * len(STAGE_COLUMNS)),))


@pytest.mark.parametrize(
    ("rule", "broken", "error", "match"),
    [
        ("data_quality", _raises, RuntimeError, "data_quality broke"),
        ("source_disagreement", _fails_in_sql, DBAPIError, "no_such_column"),
    ],
)
def test_an_error_on_the_second_connection_fails_the_run(
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
    rule: str,
    broken: Any,
    error: type[Exception],
    match: str,
) -> None:
    """A rule that raises, and a rendered rule whose SQL fails (on PostgreSQL in its COPY on
    the second connection: SQLAlchemy's error all the same, which the CLI reports as one line
    and `sync` after a batch catches): the run raises it, nothing is written and no connection
    stays out."""
    portfolio_with_quality_findings(session)
    monkeypatch.setitem(reconcile_module.RULE_FUNCTIONS, rule, broken)
    with pytest.raises(error, match=match):
        run(session, rules())
    session.rollback()
    assert session.query(Variance).count() == 0
    engine = session.get_bind()
    session.close()
    assert engine.pool.checkedout() == 0  # type: ignore[union-attr]


@pytest.mark.postgres
def test_a_second_connection_lost_in_its_copy_fails_the_run_with_that_error(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second connection's server process ends during its COPY: the run raises that error
    (not a failed rollback after it), the lost connection leaves the pool, and the next run
    works."""
    engine = make_engine(pg_database)
    _empty_postgres(engine)
    try:
        with Session(engine) as s:
            portfolio_with_quality_findings(s)

        def lost(ctx: Any) -> Any:
            end = func.pg_terminate_backend(func.pg_backend_pid())
            return Rendered((select(*[end] * len(STAGE_COLUMNS)),))

        monkeypatch.setitem(reconcile_module.RULE_FUNCTIONS, "source_disagreement", lost)
        with Session(engine) as s, pytest.raises(OperationalError, match="terminating connection"):
            run(s, rules())
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        monkeypatch.undo()
        with Session(engine) as s:
            again = run(s, rules())
        assert again.counts["data_quality"] == 3 and again.counts["budget_overrun"] >= 1
    finally:
        engine.dispose()


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
