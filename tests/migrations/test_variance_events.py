"""Migration 0015: `variance_event` back-filled from the variance rows' own timestamps at the
upgrade (marked reconstructed; past reopens stay a count), `v_variance_events`, and
`v_variance_lines` listing the lines of each data_quality check (0011's view listed none). Down
and up again on SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.models import Variance
from tests.ledger.reconcile.portfolio import CFG, NOW, rules, run
from tests.ledger.reconcile.test_quality_rules import test_data_quality_checks as dq_ledger
from tests.migrations.test_analyst_views import view

BEFORE = importlib.import_module(
    "pmo_ledger.migrations.versions.0015_variance_events"
).down_revision
H = timedelta(hours=1)


def _stored(session: Session, key: str, **steps: Any) -> int:
    """A variance as reconcile left it before 0015 (its lifecycle columns only)."""
    v = Variance(
        rule="budget_overrun", subject_type="project", subject_id=key, dimension="labor",
        period="", severity="high", status=steps.pop("status", "open"), as_known_at=NOW,
        first_seen_at=NOW, last_seen_at=NOW + 9 * H, reopened_count=steps.pop("reopened", 0),
        **steps,
    )  # fmt: skip
    session.add(v)
    session.flush()
    return v.id


def _events(session: Session) -> list[tuple[Any, ...]]:
    rows = view(
        session,
        "SELECT variance_id, event, at, severity, status, acknowledged_by, note,"
        " reconcile_run_id, reconstructed FROM variance_event ORDER BY id",
    )
    return [tuple(r.values()) for r in rows]


def test_the_upgrade_reconstructs_the_dated_steps(engine: Engine, session: Session) -> None:
    """Down to 0015's predecessor, three variances: open since NOW; escalated, acknowledged
    and reopened twice; resolved. Up: one reconstructed event per dated step, in time order,
    none for the reopens (their count stays on the variance). Down drops the history, up
    reconstructs it again."""
    session.close()
    try:
        migrate.downgrade(engine, BEFORE)
        with Session(engine) as s:
            plain = _stored(s, "P1")
            busy = _stored(s, "P2", status="acknowledged", escalated_at=NOW + 2 * H,
                           acknowledged_at=NOW + 3 * H, acknowledged_by="ana", note="known",
                           reopened=2)  # fmt: skip
            gone = _stored(s, "P3", status="resolved", resolved_at=NOW + H)
            s.commit()
        migrate.upgrade(engine)
        at = _events(session)
        sqlite = engine.dialect.name == "sqlite"
        true = 1 if sqlite else True
        when = (
            (lambda t: t.replace(tzinfo=None).isoformat(" ", "microseconds"))
            if sqlite
            else (lambda t: t)
        )
        expected = [
            (plain, "opened", when(NOW), "high", "open", None, None, None, true),
            (busy, "opened", when(NOW), "high", "open", None, None, None, true),
            (gone, "opened", when(NOW), "high", "open", None, None, None, true),
            (gone, "resolved", when(NOW + H), "high", "resolved", None, None, None, true),
            (busy, "escalated", when(NOW + 2 * H), "high", "open", None, None, None, true),
            (busy, "acknowledged", when(NOW + 3 * H), "high", "acknowledged", "ana", "known",
             None, true),
        ]  # fmt: skip
        assert at == expected
        assert [r["event"] for r in view(
            session, "SELECT event FROM v_variance_events WHERE project_code IS NULL"
            " AND subject_id = 'P2' ORDER BY event_id")] == ["opened", "escalated", "acknowledged"]  # fmt: skip
        session.close()
        migrate.downgrade(engine, BEFORE)
        with engine.connect() as conn:
            names = {r[0] for r in conn.execute(text(
                "SELECT name FROM sqlite_master" if sqlite else
                "SELECT tablename FROM pg_tables UNION ALL SELECT viewname FROM pg_views"))}  # fmt: skip
        assert not {"variance_event", "v_variance_events"} & names
        assert "v_variance_lines" in names
        migrate.upgrade(engine)
        assert _events(session) == expected
        session.close()
    finally:
        migrate.upgrade(engine)


def _dq_lines(session: Session) -> dict[tuple[str, str], list[str]]:
    """Per data_quality variance (subject, dimension): its lines' `source/external_id`."""
    ids = {
        v.id: (v.subject_id, v.dimension)
        for v in session.scalars(select(Variance).where(Variance.rule == "data_quality"))
    }
    out: dict[tuple[str, str], list[str]] = {key: [] for key in ids.values()}
    for r in view(session, "SELECT * FROM v_variance_lines ORDER BY source, external_id"):
        if r["variance_id"] in ids:
            out[ids[r["variance_id"]]].append(f"{r['source']}/{r['external_id']}")
            assert r["through_period"] == "9999-99"
    return out


#: test_data_quality_checks's lines: Q1 after the close (and the finish), Q2 before the start,
#: Q3 in EUR without a rate, Q4 with -4 hours, Q6 of an unknown project (UNMAPPED); Q5 (ZZZ)
#: waits in quarantine with Q6 and is no ledger line.
DQ_LINES = {
    ("P3", "after_close"): ["psa/Q1"],
    ("P3", "outside_dates"): ["psa/Q1", "psa/Q2"],
    ("P3", "missing_fx"): ["psa/Q3"],
    ("P3", "negative_hours"): ["psa/Q4"],
    ("psa", "quarantine:actuals"): [],
    ("psa", "unmapped"): ["psa/Q6"],
}


def test_each_data_quality_check_lists_exactly_its_lines(engine: Engine, session: Session) -> None:
    """After test_data_quality_checks's reconcile, each check's variance lists the lines it
    counted, every live one of its project (counting or not), and no other; 0011's view (down)
    listed none of them."""
    dq_ledger(session)
    run(session, rules())
    assert _dq_lines(session) == DQ_LINES
    q4 = view(
        session, "SELECT * FROM v_variance_lines WHERE external_id = 'Q4' AND rule = 'data_quality'"
    )
    assert [(r["dimension"], r["project_code"], str(r["hours"])) for r in q4] == [
        ("negative_hours", "P3", "-4.0000")
    ]
    session.close()
    try:
        migrate.downgrade(engine, BEFORE)
        assert _dq_lines(session) == {key: [] for key in DQ_LINES}
        session.close()
    finally:
        migrate.upgrade(engine)


def test_a_line_back_within_its_projects_dates_leaves_the_view(session: Session) -> None:
    """The view reads the lines as they are: Q2 re-posted inside P3's dates is no longer
    listed under outside_dates (the variance still says 2 until the next reconcile)."""
    from tests.builders import actual, load

    dq_ledger(session)
    run(session, rules())
    load(session, [actual("Q2", "100.00", project_ref="P3", cost_type="labor",
                          posted_on=date(2025, 3, 1))], cfg=CFG, at=NOW + H)  # fmt: skip
    session.commit()
    assert _dq_lines(session)[("P3", "outside_dates")] == ["psa/Q1"]


def test_the_workbook_links_a_one_line_check_to_its_record(session: Session) -> None:
    """The status workbook's findings link through v_variance_lines (`status._links`): the
    negative_hours finding of P3, one line, links to that line's record in its source (it had
    no link: the view listed no line and P3 has no page), outside_dates (two lines) to the first
    line with one."""
    from sqlalchemy import update

    from pmo_ledger.ledger.models import ActualLine
    from pmo_ledger.ledger.queries.status import status_report

    dq_ledger(session)
    url = "https://psa.example.com/timecards/{}"
    for key in ("Q1", "Q2", "Q4"):
        session.execute(update(ActualLine).where(ActualLine.external_id == key)
                        .values(source_url=url.format(key)))  # fmt: skip
    session.commit()
    report = status_report(session, CFG, rules(), now=NOW)
    links = {f.finding.dimension: f.url for f in report.findings
             if f.finding.rule == "data_quality" and f.finding.subject_id == "P3"}  # fmt: skip
    assert links == {
        "after_close": url.format("Q1"),
        "outside_dates": url.format("Q1"),
        "missing_fx": None,
        "negative_hours": url.format("Q4"),
    }
