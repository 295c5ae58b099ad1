"""The sample workbooks (`connectors.excel.sample`) are the demo portfolio's own figures and
read back whole: no rejected row, the current budgets of PRJ-0001..PRJ-0003 to the cent, the
WBS of PRJ-0001 and PRJ-0002 with every link."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from pmo_ledger.connectors.base import ConnectorContext
from pmo_ledger.connectors.excel.sample import DEMO_WORLD, write_sample
from pmo_ledger.connectors.sample import SampleConnector, SampleSettings
from pmo_ledger.ledger.records import BudgetRecord
from tests.connectors.excel.books import connector, problems, read, records


def test_the_sample_workbooks_read_back_as_the_demo_world(tmp_path: Path) -> None:
    write_sample(tmp_path)
    c = connector(tmp_path)
    pages = {s: read(c, s) for s in c.streams}
    assert {s: problems(p) for s, p in pages.items()} == {s: {} for s in c.streams}
    sample = SampleConnector(SampleSettings(**DEMO_WORLD), ConnectorContext("psa"))  # type: ignore[arg-type]
    table = sample.tables["budgets"]
    want = {}
    for i in range(table.size):
        v = table.make(i, datetime(2025, 1, 1, tzinfo=UTC))
        assert isinstance(v, BudgetRecord)
        if v.kind == "current" and v.project_ref in ("PRJ-0001", "PRJ-0002", "PRJ-0003"):
            want[v.project_ref] = sum((ln.amount for ln in v.lines), Decimal(0))
    got = {
        r.project_ref: sum((ln.amount for ln in r.lines), Decimal(0))
        for r in records(pages["budgets"])
    }
    assert got == want
    assert {r.kind for r in records(pages["budgets"])} == {"forecast"}
    assert Counter(r.project_ref for r in records(pages["tasks"])) == {
        "PRJ-0001": 12,
        "PRJ-0002": 12,
    }
    assert Counter(r.dependency_type for r in records(pages["dependencies"])) == {
        "FS": 14,
        "SS": 2,
        "FF": 2,
        "SF": 2,
    }
    # one record per code and file: budgets.xlsx names three projects, plan.xlsx two
    assert sorted(r.code for r in records(pages["projects"])) == [
        "PRJ-0001",
        "PRJ-0001",
        "PRJ-0002",
        "PRJ-0002",
        "PRJ-0003",
    ]
