"""Master data history (migration 0014): the triggers write one version per insert, real
update and hard delete of a tracked row, stamped with the writer's `updated_at` or the
database's clock, and `known(table, at)` reads the table as it stood at a past time, on SQLite
and PostgreSQL."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, inspect, select, text, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.history import known
from pmo_ledger.ledger.models import HISTORY, Portfolio, Project, table_of, utcnow
from tests.builders import T0

REVISION = importlib.import_module("pmo_ledger.migrations.versions.0014_master_data_history")
H = HISTORY["project"]
P = table_of(Project)
HOUR = timedelta(hours=1)


def _versions(session: Session, project_id: int) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in session.execute(
            select(H.c.operation, H.c.name, H.c.recorded_at)
            .where(H.c.id == project_id)
            .order_by(H.c.history_id)
        )
    ]


def _add(session: Session, code: str = "P7", name: str = "First name") -> int:
    session.execute(P.insert().values(id=7, code=code, name=name, created_at=T0, updated_at=T0))
    return 7


def _name_at(session: Session, at: Any) -> list[str]:
    k = known(P, at)
    return list(session.scalars(select(k.c.name).where(k.c.id == 7)))


def test_an_insert_and_an_update_are_versions_at_the_writers_time(session: Session) -> None:
    """The insert and a renaming are two versions stamped with their updated_at."""
    pid = _add(session)
    session.execute(update(P).where(P.c.id == pid).values(name="Renamed", updated_at=T0 + HOUR))
    assert _versions(session, pid) == [("I", "First name", T0), ("U", "Renamed", T0 + HOUR)]


def test_known_reads_each_rows_version_at_a_time(session: Session) -> None:
    """Before the insert: no row; between: the first name; after: the new one; None: live."""
    pid = _add(session)
    session.execute(update(P).where(P.c.id == pid).values(name="Renamed", updated_at=T0 + HOUR))
    assert _name_at(session, T0 - HOUR) == []
    assert _name_at(session, T0) == ["First name"]
    assert _name_at(session, T0 + HOUR / 2) == ["First name"]
    assert _name_at(session, T0 + HOUR) == ["Renamed"]
    assert known(P, None) is P


def test_an_update_that_keeps_updated_at_is_stamped_with_the_database_clock(
    session: Session,
) -> None:
    """A path that forgets to bump updated_at is recorded at the database's time, not T0."""
    pid = _add(session)
    before = utcnow() - timedelta(seconds=5)
    session.execute(update(P).where(P.c.id == pid).values(manager="Ann"))
    (op, _name, at) = _versions(session, pid)[-1]
    assert op == "U" and before <= at <= utcnow() + timedelta(seconds=5)
    assert session.scalar(select(H.c.manager).where(H.c.history_id == select(
        H.c.history_id).where(H.c.id == pid).order_by(H.c.history_id.desc()).limit(1)
        .scalar_subquery())) == "Ann"  # fmt: skip


def test_an_update_of_updated_at_alone_writes_no_version(session: Session) -> None:
    """Only a change of the row's content is a version."""
    pid = _add(session)
    session.execute(update(P).where(P.c.id == pid).values(updated_at=T0 + HOUR))
    assert _versions(session, pid) == [("I", "First name", T0)]


def test_a_hard_delete_is_a_tombstone_and_known_leaves_it_out_from_then(
    session: Session,
) -> None:
    """A deleted row is a D version at the database's time; before it the row is known."""
    pid = _add(session)
    session.execute(delete(P).where(P.c.id == pid))
    ops = [v[0] for v in _versions(session, pid)]
    assert ops == ["I", "D"]
    assert _name_at(session, T0 + HOUR) == ["First name"]
    assert _name_at(session, utcnow() + HOUR) == []


def test_every_tracked_table_has_its_history_table(engine: Engine) -> None:
    """The nine tables and their versions' columns."""
    names = set(inspect(engine).get_table_names())
    assert {t.name for t in HISTORY.values()} <= names
    assert len(HISTORY) == 9
    assert [c["name"] for c in inspect(engine).get_columns("portfolio_history")] == [
        "history_id", "id", "code", "name", "created_at", "updated_at", "recorded_at",
        "operation",
    ]  # fmt: skip


def test_downgrade_drops_history_and_upgrade_backfills_each_row_at_its_creation(
    engine: Engine,
) -> None:
    """Down: history tables and triggers gone, writes still work; up: one version per row."""
    pf = table_of(Portfolio)
    with engine.begin() as conn:
        conn.execute(pf.insert().values(id=3, code="ENT", name="Enterprise", created_at=T0,
                                        updated_at=T0 + HOUR))  # fmt: skip
    assert REVISION.down_revision == "0013"
    migrate.downgrade(engine, REVISION.down_revision)
    try:
        assert "portfolio_history" not in inspect(engine).get_table_names()
        with engine.begin() as conn:
            conn.execute(update(pf).where(pf.c.id == 3).values(name="Enterprise IT"))
    finally:
        migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, name, operation FROM portfolio_history ORDER BY history_id")
        ).all()
        at = conn.execute(select(HISTORY["portfolio"].c.recorded_at)).scalar_one()
    assert [tuple(r) for r in rows] == [(3, "Enterprise IT", "I")]
    assert at == T0
    with Session(engine) as s:
        s.execute(update(pf).where(pf.c.id == 3).values(name="ENT", updated_at=T0 + 2 * HOUR))
        s.commit()
        k = known(pf, T0 + HOUR)
        assert s.scalar(select(k.c.name).where(k.c.id == 3)) == "Enterprise IT"


def test_a_merge_moves_the_tasks_and_keeps_their_history(session: Session) -> None:
    """Merging P2 into P1 re-points its task (a new version at the merge's time); as known
    before the merge, the task is still P2's; the history tables are not rewritten."""
    from pmo_ledger.ledger.admin import project_merge
    from pmo_ledger.ledger.models import Task
    from tests.builders import add_project, settings

    p1, p2 = add_project(session, "P1"), add_project(session, "P2")
    tasks = table_of(Task)
    session.execute(tasks.insert().values(
        id=5, source="psa", external_id="T5", project_id=p2, name="Build", content_hash="x",
        created_at=T0, updated_at=T0))  # fmt: skip
    moved = project_merge(session, settings(), "P1", "P2")
    assert {k: n for k, n in moved.items() if n} == {"project_link": 1, "task": 1}
    assert not any(k.endswith("_history") for k in moved)
    k_then, k_now = known(tasks, T0), known(tasks, utcnow() + HOUR)
    assert session.scalar(select(k_then.c.project_id).where(k_then.c.id == 5)) == p2
    assert session.scalar(select(k_now.c.project_id).where(k_now.c.id == 5)) == p1
    th = HISTORY["task"]
    assert list(session.scalars(select(th.c.project_id).order_by(th.c.history_id))) == [p2, p1]
