"""The live progress of `pmo-ledger sync` (issue 19 item 1): a stream that announces its row
count (`Page.expected`) shows "read / expected" on a bar with that total, on SQLite and
PostgreSQL; one that does not shows the records read alone."""

from __future__ import annotations

from dataclasses import replace
from io import StringIO
from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from pmo_ledger.connectors.base import Page, ReadRequest
from pmo_ledger.jobs.cli.sync import LiveProgress
from pmo_ledger.jobs.run_records import StreamResult
from pmo_ledger.jobs.sync import run_sync
from tests.jobs.scripted import ScriptedConnector, line, make_app, pages_of, projects


def _run(engine: Engine, tmp_path: Path, announce: int | None) -> tuple[LiveProgress, str]:
    """Sync 500 actuals in pages of 100 (the first page announcing `announce`) through a
    LiveProgress on a terminal console; its tasks and its last rendering."""
    actuals = pages_of([line(f"L{i}") for i in range(500)], 100)
    actuals[0] = replace(actuals[0], expected=announce)

    def script(_request: ReadRequest) -> list[Page]:
        return actuals

    conn = ScriptedConnector({"projects": lambda _r: [projects("A")], "actuals": script})
    seen: list[StreamResult] = []
    terminal = Console(file=StringIO(), force_terminal=True, width=120)
    with LiveProgress(terminal, "s1") as progress:

        def update(outcome: StreamResult) -> None:
            seen.append(outcome)
            progress.update(outcome)

        result = run_sync(make_app(engine, tmp_path), "s1", connector=conn, on_batch=update)
    assert result.status == "succeeded"
    shown = Console(file=StringIO(), width=120, color_system=None)
    assert progress.progress is not None
    shown.print(progress.progress.get_renderable())
    return progress, shown.file.getvalue()  # type: ignore[attr-defined]


def test_an_announced_count_is_the_progress_total(engine: Engine, tmp_path: Path) -> None:
    progress, text = _run(engine, tmp_path, 500)
    assert progress.progress is not None
    task = progress.progress.tasks[progress.tasks["actuals"]]
    assert (task.completed, task.total) == (500, 500)
    assert "s1 actuals" in text
    assert "500 / 500 rows" in text


def test_without_a_count_the_progress_shows_the_records_read(
    engine: Engine, tmp_path: Path
) -> None:
    progress, text = _run(engine, tmp_path, None)
    assert progress.progress is not None
    task = progress.progress.tasks[progress.tasks["actuals"]]
    assert task.completed == 500
    assert "500 records read" in text
    assert " / " not in text
