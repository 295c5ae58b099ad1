"""Dashboard fixes seen in the screenshots (both engines): a data_quality line check's variance
lists the lines it counted, messages say "1 line" (not "1 lines"), a completed project's Gantt
spans its own dates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.orm import Session

from pmo_ledger.jobs.reconcile import run_reconcile
from pmo_ledger.ledger.models import ActualLine, Project, Variance
from pmo_ledger.ledger.queries.dashboard import variance_detail, variance_lines
from tests.service.test_ui_pages import loaded


def test_an_outside_dates_variance_lists_the_lines_it_counted(
    engine: Engine, tmp_path: Path
) -> None:
    with loaded(engine, tmp_path) as ui:
        with Session(engine) as s:
            pid, code = s.execute(
                select(Project.id, Project.code).where(Project.code != "UNMAPPED")
                .order_by(Project.code).limit(1)
            ).one()  # fmt: skip
            start, finish = date(2026, 3, 1), date(2026, 5, 31)
            s.execute(
                update(Project).where(Project.id == pid)
                .values(planned_start=start, planned_finish=finish)
            )  # fmt: skip
            s.commit()
            outside = set(
                s.scalars(
                    select(ActualLine.id).where(
                        ActualLine.project_id == pid,
                        ActualLine.deleted_at.is_(None),
                        or_(ActualLine.posted_on < start, ActualLine.posted_on > finish),
                    )
                )
            )
        assert len(outside) > 1
        run_reconcile(ui.app)
        with Session(engine) as s:
            v = s.scalars(
                select(Variance).where(
                    Variance.project_id == pid, Variance.rule == "data_quality",
                    Variance.dimension == "outside_dates", Variance.status == "open",
                )
            ).one()  # fmt: skip
            assert v.measures == {"lines": len(outside)}
            lines = variance_lines(s, [v.id], project_id=pid, limit=10_000)[v.id]
            assert {line.line_id for line in lines} == outside
            assert all(not start <= line.posted_on <= finish for line in lines)
            assert [line.posted_on for line in lines] == sorted(line.posted_on for line in lines)
            detail = variance_detail(s, v.id)
            assert detail is not None and len(detail.lines) == len(outside)
            total = s.scalar(select(func.count()).select_from(ActualLine).where(
                ActualLine.project_id == pid, ActualLine.deleted_at.is_(None)))  # fmt: skip
            assert total is not None and total > len(outside)
        html = ui.client.get(f"/ui/projects/{code}").text
        block = html[html.index(f'id="variance-{v.id}"') :]
        shown = min(len(outside), 50)
        assert f"{shown} ledger lines" in block[: block.index("</summary>")]
        page = ui.client.get(f"/ui/variances/{v.id}").text
        assert page.count("<tr><td>psa/") == len(outside)
