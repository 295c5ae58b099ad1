"""The excel connector reads workbooks into the ledger's records: budget versions with exact
lines keyed by their natural key, tasks with three-point estimates, links; bad cells, duplicate
keys and unreadable files are quarantined with a message naming file, sheet and cell; what a
file no longer lists comes back as deletions from the keys in the checkpoint."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from pmo_ledger.connectors.base import ScopeEnd, ScopeStart
from pmo_ledger.connectors.errors import SourceError
from pmo_ledger.ledger.records import BudgetRecord, DependencyRecord, TaskRecord
from tests.connectors.excel.books import (
    budget,
    budgets_file,
    connector,
    deletions,
    plan_file,
    problems,
    read,
    records,
    task,
)


def _lines(pages: list) -> dict[str, Decimal]:
    return {ln.external_id: ln.amount for r in records(pages) for ln in r.lines}


def test_budget_rows_become_versions_with_exact_lines(tmp_path: Path) -> None:
    """Rows of one project and version make one derived version; amounts are exact; a label
    starting with Baseline makes a baseline; a date range is spread over its periods."""
    path = budgets_file(
        tmp_path / "fy25.xlsx",
        budget("PRJ-0001", "labor", "2025-01", "1000.10"),
        budget("PRJ-0001", "Travel", "2025-02", 0.1 + 0.2),
        budget(
            "PRJ-0001",
            "software",
            None,
            "100.00",
            **{"from": date(2025, 1, 15), "to": date(2025, 3, 10)},
        ),
        budget("PRJ-0002", "labor", "2025-01", "500", version="Baseline 2025", currency="EUR"),
    )
    pages = read(connector(path), "budgets")
    assert pages[0].scope == ScopeStart("budgets") and pages[-1].scope == ScopeEnd("budgets")
    versions = {r.external_id: r for r in records(pages)}
    assert set(versions) == {"fy25/PRJ-0001/Current", "fy25/PRJ-0002/Baseline 2025"}
    current = versions["fy25/PRJ-0001/Current"]
    assert isinstance(current, BudgetRecord)
    assert (current.kind, current.number, current.derived, current.effective_from) == (
        "current",
        1,
        True,
        date(2025, 1, 1),
    )
    assert versions["fy25/PRJ-0002/Baseline 2025"].kind == "baseline"
    assert _lines(pages) == {
        "fy25/PRJ-0001/Current/labor/2025-01": Decimal("1000.10"),
        "fy25/PRJ-0001/Current/travel/2025-02": Decimal("0.30"),
        "fy25/PRJ-0001/Current/software/2025-01-15..2025-03-10@2025-01": Decimal("33.33"),
        "fy25/PRJ-0001/Current/software/2025-01-15..2025-03-10@2025-02": Decimal("33.33"),
        "fy25/PRJ-0001/Current/software/2025-01-15..2025-03-10@2025-03": Decimal("33.34"),
        "fy25/PRJ-0002/Baseline 2025/labor/2025-01": Decimal("500.00"),
    }


def test_a_bad_cell_refuses_the_whole_file_with_every_problem(tmp_path: Path) -> None:
    """Text in an amount, an unknown cost type and a bad date are each named by file, sheet
    and cell; the file loads whole or not at all: the good version is held too."""
    path = budgets_file(
        tmp_path / "b.xlsx",
        budget("PRJ-0001", "labor", "2025-01", "10.00"),
        budget("PRJ-0001", "labor", "2025-02", "abc"),
        budget("PRJ-0001", "catering", "2025-03", "10.00"),
        budget("PRJ-0001", "labor", "March", "10.00"),
        budget("PRJ-0001", "travel", "2025-04", 100 / 3),
        budget("PRJ-0002", "labor", "2025-01", "7.00"),
    )
    pages = read(connector(path), "budgets")
    assert records(pages) == []
    every = [
        "[b.xlsx]Budgets!F3: 'abc' is not an amount",
        "[b.xlsx]Budgets!B4: 'catering' is not a cost type "
        "(labor, travel, software, subcontract, equipment, other)",
        "[b.xlsx]Budgets!C5: 'March' is not a period (YYYY-PP)",
        "[b.xlsx]Budgets!F6: 33.3333333333333 has 13 decimals; USD takes 2 "
        "(round it in the sheet, e.g. =ROUND(...; 2))",
    ]
    assert problems(pages) == {
        "b/PRJ-0001/Current": every,
        "b/PRJ-0002/Current": ["b.xlsx: refused, nothing of it loaded", *every],
    }
    assert [r.reason for p in pages for r in p.rejected] == ["bad_amount", "refused_file"]
    assert records(read(connector(path), "projects")) == []  # nothing of the file


def test_a_bad_plan_row_refuses_every_stream_of_its_file_and_other_files_load(
    tmp_path: Path,
) -> None:
    """A problem on the Plan sheet refuses the file for every stream (its good task and its
    good link are held, nothing is reversed); the other workbook of the folder loads."""
    folder = tmp_path / "plans"
    folder.mkdir()
    good = [task("T1", "Design", "1", "2", "3"), task("T2", "Build", "2", "3", "4")]
    link = [{"predecessor": "T1", "successor": "T2", "type": "FS"}]
    plan_file(folder / "p.xlsx", good, link)
    plan_file(folder / "q.xlsx", good, link)
    first = read(connector(folder), "tasks")
    assert sorted(r.external_id for r in records(first)) == ["p/T1", "p/T2", "q/T1", "q/T2"]
    plan_file(folder / "p.xlsx", [good[0], task("T2", "Build", "5", "4", "3")], link)
    pages = read(connector(folder), "tasks", first[-1].checkpoint)
    assert sorted(r.external_id for r in records(pages)) == ["q/T1", "q/T2"]
    bad = (
        "[p.xlsx]Plan!I3: estimates 5.00 / 4.00 / 3.00 are not optimistic <= most likely "
        "<= pessimistic"
    )
    assert problems(pages) == {
        "p/T1": ["p.xlsx: refused, nothing of it loaded", bad],
        "p/T2": [bad],
    }
    assert deletions(pages) == []
    links = read(connector(folder), "dependencies")
    assert [r.external_id for r in records(links)] == ["q/T1->T2/FS"]
    assert problems(links) == {"p/T1->T2/FS": ["p.xlsx: refused, nothing of it loaded", bad]}


def test_duplicate_keys_name_both_rows(tmp_path: Path) -> None:
    path = budgets_file(
        tmp_path / "b.xlsx",
        budget("PRJ-0001", "labor", "2025-01", "10.00"),
        budget("PRJ-0001", "labor", "2025-01", "12.00"),
    )
    pages = read(connector(path), "budgets")
    assert records(pages) == []
    assert problems(pages) == {
        "b/PRJ-0001/Current": [
            "[b.xlsx]Budgets!F3: PRJ-0001 / Current / labor/2025-01 is also on row 2 of Budgets"
        ]
    }


def test_plan_rows_become_tasks_and_links(tmp_path: Path) -> None:
    """Task IDs key the tasks (with the file stem); estimates, percent complete (a percent
    cell) at the status date, parents and every link type come through."""
    path = plan_file(
        tmp_path / "plan.xlsx",
        [
            task("A", "Design", "2", "3", "6", percent=Decimal(50), status_date=date(2025, 3, 31)),
            task("B", "Build", "4", "5", "9", parent="S"),
            task("S", "Summary", "1", "1", "1"),
        ],
        [
            {"predecessor": "A", "successor": "B", "type": "SS", "lag": Decimal(1)},
            {"predecessor": "A", "successor": "B", "type": "FF"},
        ],
    )
    c = connector(path)
    tasks = {r.external_id: r for r in records(read(c, "tasks"))}
    a = tasks["plan/A"]
    assert isinstance(a, TaskRecord)
    assert (a.project_ref, a.optimistic_days, a.most_likely_days, a.pessimistic_days) == (
        "PRJ-0001",
        Decimal("2.00"),
        Decimal("3.00"),
        Decimal("6.00"),
    )
    assert (a.percent_complete, a.status_date) == (Decimal("50.00"), date(2025, 3, 31))
    assert tasks["plan/B"].parent_ref == "plan/S"
    links = records(read(c, "dependencies"))
    assert all(isinstance(r, DependencyRecord) for r in links)
    assert [(r.external_id, r.dependency_type, r.lag_days) for r in links] == [
        ("plan/A->B/SS", "SS", Decimal("1.00")),
        ("plan/A->B/FF", "FF", Decimal("0.00")),
    ]


def test_bad_plan_rows_are_held_and_the_rest_loads(tmp_path: Path) -> None:
    """Estimates out of order, a duplicate Task ID (both rows named) and a link to an unknown
    task are quarantined; the good rows load."""
    path = plan_file(
        tmp_path / "p.xlsx",
        [
            task("A", "Design", "5", "3", "6"),
            task("B", "Build", "1", "2", "3"),
            task("B", "Build again", "1", "2", "3"),
        ],
        [{"predecessor": "A", "successor": "Z"}],
    )
    c = connector(path)
    pages = read(c, "tasks")
    assert [r.external_id for r in records(pages)] == []
    assert problems(pages) == {
        "p/A": [
            "[p.xlsx]Plan!I2: estimates 5.00 / 3.00 / 6.00 are not optimistic <= most likely "
            "<= pessimistic"
        ],
        "p/B": ["[p.xlsx]Plan!A4: Task ID B is also on row 3"],
    }
    assert problems(read(c, "dependencies")) == {
        "p/A->Z/FS": ["[p.xlsx]Dependencies!B2: 'Z' is no Task ID of the Plan sheet"]
    }


def test_removed_rows_and_versions_come_back_as_deletions(tmp_path: Path) -> None:
    """The checkpoint keeps the keys each file listed: a version no longer in the file is
    deleted; a version that lost a row is re-sent without it (the writer reverses the line)."""
    path = tmp_path / "b.xlsx"
    budgets_file(
        path,
        budget("P1", "labor", "2025-01", "1"),
        budget("P2", "labor", "2025-01", "2"),
        budget("P2", "travel", "2025-01", "3"),
    )
    first = read(connector(path), "budgets")
    token = first[-1].checkpoint
    assert token is not None and token.kind == "token"
    assert json.loads(str(token.value))["files"] == {
        str(path.resolve()): ["b/P1/Current", "b/P2/Current"]
    }
    budgets_file(path, budget("P2", "labor", "2025-01", "2"))
    second = read(connector(path), "budgets", token)
    assert deletions(second) == ["b/P1/Current"]
    assert _lines(second) == {"b/P2/Current/labor/2025-01": Decimal("2.00")}


def test_a_quarantined_version_keeps_its_key(tmp_path: Path) -> None:
    """A version held for a bad cell is not reported deleted: the ledger keeps it as it was."""
    path = tmp_path / "b.xlsx"
    budgets_file(path, budget("P1", "labor", "2025-01", "1"))
    token = read(connector(path), "budgets")[-1].checkpoint
    budgets_file(path, budget("P1", "labor", "2025-01", "x"))
    pages = read(connector(path), "budgets", token)
    assert deletions(pages) == [] and list(problems(pages)) == ["b/P1/Current"]


def test_a_folder_reads_every_workbook_and_a_removed_file_is_reversed(tmp_path: Path) -> None:
    """Two files of a folder load side by side (lock files skipped); when one is removed its
    versions are deleted; a file read by hand outside the folder stays."""
    folder = tmp_path / "budgets"
    folder.mkdir()
    budgets_file(folder / "east.xlsx", budget("P1", "labor", "2025-01", "1"))
    budgets_file(folder / "west.xlsx", budget("P1", "labor", "2025-01", "2"))
    (folder / "~$old.xlsx").write_bytes(b"an Excel lock file left behind")  # never read
    pages = read(connector(folder), "budgets")
    assert sorted(r.external_id for r in records(pages)) == ["east/P1/Current", "west/P1/Current"]
    elsewhere = budgets_file(tmp_path / "byhand.xlsx", budget("P9", "labor", "2025-01", "9"))
    by_hand = read(connector(folder).for_file(elsewhere), "budgets", pages[-1].checkpoint)
    (folder / "west.xlsx").unlink()
    after = read(connector(folder), "budgets", by_hand[-1].checkpoint)
    assert deletions(after) == ["west/P1/Current"]
    kept = json.loads(str(after[-1].checkpoint.value))["files"]
    assert kept[str(elsewhere.resolve())] == ["byhand/P9/Current"]


def test_unreadable_files_get_one_line_and_keep_their_keys(tmp_path: Path) -> None:
    """Not an xlsx, password-protected (an OLE2 file) or open in Excel: one rejected row each
    naming the file; nothing is deleted."""
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "notes.xlsx").write_text("hello")
    (folder / "secret.xlsx").write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 100)
    budgets_file(folder / "open.xlsx", budget("P1", "labor", "2025-01", "1"))
    (folder / "~$open.xlsx").write_bytes(b"lock")
    pages = read(connector(folder), "budgets")
    assert problems(pages) == {
        "notes": ["notes.xlsx: is not an xlsx workbook"],
        "open": ["open.xlsx: is open in Excel elsewhere (~$open.xlsx exists)"],
        "secret": [
            "secret.xlsx: is password-protected or an old .xls: save it as an unprotected .xlsx"
        ],
    }
    assert deletions(pages) == []


def test_a_path_with_no_workbook_reads_nothing(tmp_path: Path) -> None:
    """An empty folder is a source error, never "delete everything"."""
    with pytest.raises(SourceError, match="no workbook at"):
        read(connector(tmp_path), "budgets")


def test_a_missing_required_column_holds_the_sheet(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    ws = book.active
    ws.title = "Budgets"
    ws.append(["Project", "Cost type", "Period", "Version"])
    ws.append(["P1", "labor", "2025-01", "Current"])
    book.save(tmp_path / "b.xlsx")
    pages = read(connector(tmp_path / "b.xlsx"), "budgets")
    assert problems(pages) == {"b/Budgets": ["[b.xlsx]Budgets!1: the header has no column Amount"]}


def test_a_glob_reads_the_files_it_matches(tmp_path: Path) -> None:
    """An absolute glob: only the matching files are read."""
    budgets_file(tmp_path / "east-budget.xlsx", budget("P1", "labor", "2025-01", "1"))
    budgets_file(tmp_path / "notes.xlsx", budget("P2", "labor", "2025-01", "2"))
    pages = read(connector(tmp_path / "*-budget.xlsx"), "budgets")
    assert [r.external_id for r in records(pages)] == ["east-budget/P1/Current"]
