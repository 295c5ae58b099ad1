"""Sample workbooks consistent with the demo's portfolio, made by code (no binary in git).

`write_sample(folder)` writes `budgets.xlsx` (a "Forecast" version of PRJ-0001..PRJ-0003: the
demo's current budget lines of the sample world, seed 42, 6 projects) and `plan.xlsx` (the
WBS of PRJ-0001 and PRJ-0002 with their three-point estimates, percent complete and every
link type), both filled templates. `pmo-ledger sandbox --kind excel` serves such a folder;
`python -m pmo_ledger.connectors.excel.sample DIR` writes one.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pmo_ledger.connectors.base import ConnectorContext, Sandbox, SandboxOptions
from pmo_ledger.connectors.excel.settings import DEFAULT_COST_TYPES
from pmo_ledger.connectors.excel.template import write_template
from pmo_ledger.ledger.records import BudgetRecord, DependencyRecord, TaskRecord

#: The demo's sample world (config/demo.toml, `[connectors.psa]`).
DEMO_WORLD = {"seed": 42, "projects": 6, "actuals": 3000}
BUDGET_PROJECTS = ("PRJ-0001", "PRJ-0002", "PRJ-0003")
PLAN_PROJECTS = ("PRJ-0001", "PRJ-0002")


def sample_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(Budgets rows, Plan rows, Dependencies rows) from the demo's sample world."""
    from pmo_ledger.connectors.sample import SampleConnector, SampleSettings

    sample = SampleConnector(SampleSettings(**DEMO_WORLD), ConnectorContext("psa"))  # type: ignore[arg-type]
    at = datetime(2025, 1, 1, tzinfo=UTC)
    tables = sample.tables
    budgets: list[dict[str, Any]] = []
    for i in range(tables["budgets"].size):
        version = tables["budgets"].make(i, at)
        assert isinstance(version, BudgetRecord)
        if version.project_ref not in BUDGET_PROJECTS or version.kind != "current":
            continue
        for line in version.lines:
            budgets.append(
                {
                    "project": version.project_ref,
                    "cost_type": line.cost_type,
                    "period": line.period,
                    "amount": line.amount,
                    "currency": line.currency,
                    "version": "Forecast",
                    "hours": line.hours,
                }
            )
    tasks: list[dict[str, Any]] = []
    for i in range(tables["tasks"].size):
        task = tables["tasks"].make(i, at)
        assert isinstance(task, TaskRecord)
        if task.project_ref not in PLAN_PROJECTS:
            continue
        tasks.append(
            {
                "task": _short(task.external_id),
                "project": task.project_ref,
                "parent": _short(task.parent_ref) if task.parent_ref else None,
                "name": task.name,
                "wbs": f"{task.project_ref[-1]}.{task.wbs_code}",
                "start": task.planned_start,
                "finish": task.planned_finish,
                "optimistic": task.optimistic_days,
                "most_likely": task.most_likely_days,
                "pessimistic": task.pessimistic_days,
                "percent": task.percent_complete,
                "status_date": task.status_date,
            }
        )
    links: list[dict[str, Any]] = []
    for i in range(tables["dependencies"].size):
        link = tables["dependencies"].make(i, at)
        assert isinstance(link, DependencyRecord)
        if link.predecessor_ref.split(".")[0] not in PLAN_PROJECTS:
            continue
        links.append(
            {
                "predecessor": _short(link.predecessor_ref),
                "successor": _short(link.successor_ref),
                "type": link.dependency_type,
                "lag": link.lag_days,
            }
        )
    return budgets, tasks, links


def _short(key: str) -> str:
    """A sample task key PRJ-0001.T05 as a Task ID unique across the file: 1.T05."""
    project, _, slot = key.partition(".")
    return f"{int(project[4:])}.{slot}"


def write_sample(folder: Path) -> list[Path]:
    """Write budgets.xlsx and plan.xlsx into `folder`; returns their paths."""
    budgets, tasks, links = sample_rows()
    folder.mkdir(parents=True, exist_ok=True)
    out = [folder / "budgets.xlsx", folder / "plan.xlsx"]
    write_template(out[0], "budgets", DEFAULT_COST_TYPES, {"Budgets": budgets})
    write_template(out[1], "plan", DEFAULT_COST_TYPES, {"Plan": tasks, "Dependencies": links})
    return out


@contextmanager
def sample_folder(options: SandboxOptions) -> Iterator[Sandbox]:
    """A temporary folder with the sample workbooks, for as long as the context lasts."""
    with tempfile.TemporaryDirectory(prefix="pmo-ledger-excel-") as tmp:
        files = write_sample(Path(tmp))
        yield Sandbox(
            settings={"path": tmp},
            table="excel",
            lines=[f"sample workbooks in {tmp}:", *(f"  {p.name}" for p in files)],
        )


def main(argv: list[str]) -> int:
    """`python -m pmo_ledger.connectors.excel.sample DIR`: write the sample workbooks."""
    if len(argv) != 1:
        print("usage: python -m pmo_ledger.connectors.excel.sample DIR", file=sys.stderr)
        return 2
    for path in write_sample(Path(argv[0])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
