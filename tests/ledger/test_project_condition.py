"""A project's condition (issue 19, migration 0012) through the project writer, on SQLite and
PostgreSQL: stored, replayed without a change, a change of it is a change, cleared when the
authority stops sending it, and a value too long for the column is held with the reason."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Project
from pmo_ledger.ledger.write.structure import apply_projects
from tests.ledger.test_dimensions import T0, T1, ctx, load_project, project, reasons


def stored(session: Session) -> tuple[str | None, object]:
    """P1's condition and updated_at."""
    row = session.execute(select(Project.condition, Project.updated_at).where(Project.code == "P1"))
    condition, updated_at = row.one()
    return condition, updated_at


def test_the_condition_is_stored_and_a_change_of_it_is_a_change(session: Session) -> None:
    assert load_project(session, project(condition="at_risk")) == []
    assert stored(session) == ("at_risk", T0)
    same = apply_projects(ctx(session, at=T1), "projects", [project(condition="at_risk")], held=[])
    assert (same.written, same.unchanged) == (0, 1)
    assert stored(session) == ("at_risk", T0)
    worse = apply_projects(
        ctx(session, at=T1), "projects", [project(condition="in_trouble")], held=[]
    )
    assert worse.written == 1
    assert stored(session) == ("in_trouble", T1)
    # The authority owns every field of its projects: one it no longer sends is cleared.
    apply_projects(ctx(session, at=T1), "projects", [project()], held=[])
    assert stored(session)[0] is None


def test_a_condition_longer_than_the_column_is_held_and_the_rest_load(session: Session) -> None:
    held = load_project(
        session, project("a1", "P1", condition="x" * 21), project("a2", "P2", condition="")
    )
    assert reasons(held) == {"a1": "invalid_condition", "a2": "invalid_condition"}
    assert load_project(session, project("a3", "P3", condition="y" * 20)) == []
    codes = {c: k for c, k in session.execute(select(Project.code, Project.condition)).tuples()}
    assert codes == {"UNMAPPED": None, "P3": "y" * 20}
