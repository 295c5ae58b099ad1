"""`pmo-ledger map add | remove` (issue 18, item 2): every argument checked before anything is
written (one `error:` line, exit 2), what moved said by project and currency, a removed mapping
sends its lines where the resolution rules put them, and a mapping with a cost type replaces a
project link of the same key. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session
from typer.testing import Result

from pmo_ledger.ledger.models import (
    UNMAPPED_ID,
    CostObjectMap,
    LedgerEntry,
    Project,
    ProjectLink,
    Quarantine,
    Task,
)
from pmo_ledger.ledger.write import remap
from tests.builders import T0, actual, add_project, line, load
from tests.jobs.test_cli import Ledger, failed, ledger, ok, unmapped_erp_line

__all__ = ["ledger"]  # the fixture, imported


def refused(result: Result) -> str:
    """The stderr of a command refused with exit 2 and no traceback."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return result.stderr


def written(s: Session) -> tuple[int, ...]:
    """Rows a refused mapping must not add: links, maps, entries, quarantine entries."""
    return tuple(
        int(s.scalar(select(func.count()).select_from(t)) or 0)
        for t in (ProjectLink, CostObjectMap, LedgerEntry, Quarantine)
    )


def erp_lines(ledger: Ledger, ref_type: str, ref: str, *amounts: tuple[str, str]) -> None:
    """Projects P1 and P2 (psa), and erp postings e1, e2... on one key."""
    with ledger.session() as s:
        add_project(s, "P1")
        add_project(s, "P2")
        records = [
            actual(f"e{n}", amount, currency=ccy, project_ref=ref, project_ref_type=ref_type)
            for n, (amount, ccy) in enumerate(amounts, 1)
        ]
        load(s, records, source="erp", stream="postings", cfg=ledger.settings, at=T0)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ("nope", "wbs", "W-1", "P1"),
            "unknown source 'nope': expected a configured connector (erp, psa)",
        ),
        (
            ("erp", "wsb", "W-1", "P1"),
            "unknown object type 'wsb': expected one of cost_center, opportunity, order, "
            "program, project, wbs",
        ),
        (("erp", "wbs", "", "P1"), "the key is empty"),
        (("erp", "wbs", " W-1", "P1"), "the key ' W-1' has leading or trailing blanks"),
        (("erp", "wbs", "W-1\x07", "P1"), "the key 'W-1\\x07' holds a control character"),
        (("erp", "wbs", "W" * 256, "P1"), "the key is 256 characters long; at most 255 are held"),
        (
            ("erp", "wbs", "W-1", "P1", "--cost-type", "labour"),
            "unknown cost type 'labour': expected one of expense, labor",
        ),
        (("erp", "wbs", "W-1", "NOPE"), "unknown project code 'NOPE'"),
        (
            ("erp", "wbs", "W-1", "UNMAPPED"),
            "UNMAPPED is not a mapping target: a key without a mapping lands there",
        ),
        (("erp", "wbs", "W-1", "P1", "--task", "T-9"), "unknown task 'T-9' in project 'P1'"),
    ],
)
def test_map_add_refuses_a_bad_argument_with_exit_2_and_writes_nothing(
    ledger: Ledger, args: tuple[str, ...], error: str
) -> None:
    """Each bad argument is named in one line, exit 2; no link, map, entry or quarantine
    entry is written and the waiting line stays on UNMAPPED (before: most were stored, an
    unknown source or a typo'd object type as a mapping that never applies)."""
    unmapped_erp_line(ledger)
    with ledger.session() as s:
        before = written(s)
    assert refused(ledger.run("map", "add", *args)) == f"error: {error}\n"
    with ledger.session() as s:
        assert written(s) == before
        assert line(s, "e1", source="erp").project_id == UNMAPPED_ID


def test_map_add_refuses_the_projects_authoritys_own_key(ledger: Ledger) -> None:
    """A project key the projects authority linked is its identity: remapping it would
    rename another project at the next sync. Refused, exit 2, the link unchanged."""
    with ledger.session() as s:
        add_project(s, "P2")
        pid = add_project(s, "P1", ref="OLD")
        s.execute(
            insert(ProjectLink).values(
                source="psa",
                object_type="project",
                external_id="PSA-1",
                project_id=pid,
                origin="authority",
                created_at=T0,
                updated_at=T0,
            )
        )
        s.commit()
    err = refused(ledger.run("map", "add", "psa", "project", "PSA-1", "P2"))
    assert err == "error: psa project PSA-1 is the projects authority's own key\n"
    with ledger.session() as s:
        link = select(ProjectLink.project_id, ProjectLink.origin).where(
            ProjectLink.external_id == "PSA-1"
        )
        assert s.execute(link).one() == (pid, "authority")


def test_map_add_says_what_moved_from_where_to_where_by_currency(ledger: Ledger) -> None:
    """The summary names each move (from and to project, lines, amounts per currency): the
    first mapping takes two lines off UNMAPPED, the second moves them from P1 to P2."""
    erp_lines(ledger, "wbs", "W-1", ("100.00", "USD"), ("50.00", "EUR"), ("25.50", "USD"))
    assert ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P1")).splitlines() == [
        "mapped erp wbs W-1 -> P1; 3 lines re-pointed",
        "  UNMAPPED -> P1: 3 lines, 50.00 EUR, 125.50 USD",
    ]
    assert ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P2")).splitlines() == [
        "mapped erp wbs W-1 -> P2; 3 lines re-pointed",
        "  P1 -> P2: 3 lines, 50.00 EUR, 125.50 USD",
    ]
    assert ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P2")) == (
        "mapped erp wbs W-1 -> P2; 0 lines re-pointed\n"
    )


@pytest.mark.parametrize("parked_on", ["UNMAPPED", "P1"])
def test_a_cost_type_mapping_moves_lines_a_project_link_of_the_key_held(
    ledger: Ledger, parked_on: str
) -> None:
    """Lines of a project-type key parked by a link (on UNMAPPED, as `map add ... UNMAPPED`
    stored before, or on P1) stayed put when `map add --cost-type` stored a cost object map:
    the old link won over it. Now the map replaces the link and the lines move to P2 as labor,
    with a remap entry after the ones before."""
    erp_lines(ledger, "project", "X-1", ("100.00", "USD"))
    with ledger.session() as s:
        pid = project_id(s, parked_on)
        s.execute(
            insert(ProjectLink).values(
                source="erp",
                object_type="project",
                external_id="X-1",
                project_id=pid,
                origin="manual",
                created_at=T0,
                updated_at=T0,
            )
        )
        assert remap(s, ledger.settings, "erp") == (0 if pid == UNMAPPED_ID else 1)
        s.commit()
    out = ok(ledger.run("map", "add", "erp", "project", "X-1", "P2", "--cost-type", "labor"))
    assert out.splitlines() == [
        "mapped erp project X-1 -> P2 as labor; 1 line re-pointed",
        f"  {parked_on} -> P2: 1 line, 100.00 USD",
    ]
    with ledger.session() as s:
        moved = line(s, "e1", source="erp")
        assert (moved.project_id, moved.cost_type) == (project_id(s, "P2"), "labor")
        links = select(func.count()).select_from(ProjectLink).where(ProjectLink.source == "erp")
        assert s.scalar(links) == 0
        entries = select(LedgerEntry.reason).where(LedgerEntry.line_id == moved.id)
        reasons = s.scalars(entries.order_by(LedgerEntry.id)).all()
        assert reasons == ["insert", *(["remap"] * (2 if pid == UNMAPPED_ID else 4))]
        assert s.scalar(select(Quarantine.status)) == "resolved"


def test_map_remove_sends_the_lines_back_to_unmapped(ledger: Ledger) -> None:
    """Removing a mapping re-points its lines to UNMAPPED (not counting, with new entries:
    the earlier ones stay) and opens their `unmapped` entry again, so `map list --unmapped`
    shows the key; a key with no mapping then is an error, exit 2."""
    erp_lines(ledger, "wbs", "W-1", ("100.00", "USD"), ("50.00", "EUR"))
    ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P1", "--cost-type", "labor"))
    with ledger.session() as s:
        entries_before = s.scalar(select(func.count()).select_from(LedgerEntry))
    assert ok(ledger.run("map", "remove", "erp", "wbs", "W-1")).splitlines() == [
        "removed the mapping of erp wbs W-1 (cost_object_map); 2 lines re-pointed",
        "  P1 -> UNMAPPED: 2 lines, 50.00 EUR, 100.00 USD",
    ]
    with ledger.session() as s:
        back = line(s, "e1", source="erp")
        assert (back.project_id, back.counts_amount) == (UNMAPPED_ID, False)
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == (entries_before or 0) + 4
        assert s.scalar(select(func.count()).select_from(CostObjectMap)) == 0
        open_ = select(Quarantine.external_id).where(
            Quarantine.status == "open", Quarantine.reason == "unmapped"
        )
        assert sorted(s.scalars(open_)) == ["e1", "e2"]
    assert "W-1" in ok(ledger.run("map", "list", "--unmapped"))
    err = refused(ledger.run("map", "remove", "erp", "wbs", "W-1"))
    assert err == "error: no mapping of erp wbs W-1\n"
    ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P2"))
    assert ok(ledger.run("map", "list", "--unmapped")) == "no unmapped lines\n"


def test_map_remove_sends_the_lines_to_the_project_a_link_rule_gives(ledger: Ledger) -> None:
    """A key a link rule places (PRJ-1003.2 -> PRJ-1003) and a mapping moved to P1 goes back to
    PRJ-1003 when the mapping is removed. The rule's own link cannot be removed."""
    with ledger.session() as s:
        add_project(s, "PRJ-1003")
        s.commit()
    erp_lines(ledger, "wbs", "PRJ-1003.2", ("100.00", "USD"))
    with ledger.session() as s:
        assert line(s, "e1", source="erp").project_id == project_id(s, "PRJ-1003")
    assert ok(ledger.run("map", "add", "erp", "wbs", "PRJ-1003.2", "P1")).splitlines()[1] == (
        "  PRJ-1003 -> P1: 1 line, 100.00 USD"
    )
    assert ok(ledger.run("map", "remove", "erp", "wbs", "PRJ-1003.2")).splitlines() == [
        "removed the mapping of erp wbs PRJ-1003.2 (cost_object_map); 1 line re-pointed",
        "  P1 -> PRJ-1003: 1 line, 100.00 USD",
    ]
    err = refused(ledger.run("map", "remove", "erp", "wbs", "PRJ-1003.2"))
    assert err == (
        "error: erp wbs PRJ-1003.2 is placed by a link rule, not a mapping "
        "(change [[ledger.link_rules]])\n"
    )


def test_a_task_a_mapping_gave_does_not_follow_the_line_to_another_project(
    ledger: Ledger,
) -> None:
    """A map to P1 task T1 gives the line T1; remapped to P2 without a task the line had kept
    T1, a task of P1. Now it takes what the new mapping gives (no task), as the writer would."""
    erp_lines(ledger, "wbs", "W-1", ("100.00", "USD"))
    with ledger.session() as s:
        s.execute(
            insert(Task).values(
                source="psa",
                external_id="T1",
                project_id=project_id(s, "P1"),
                name="T1",
                content_hash="x",
                created_at=T0,
                updated_at=T0,
            )
        )
        s.commit()
    ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P1", "--task", "T1"))
    with ledger.session() as s:
        assert line(s, "e1", source="erp").task_id is not None
    ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P2"))
    with ledger.session() as s:
        moved = line(s, "e1", source="erp")
        assert (moved.project_id, moved.task_id) == (project_id(s, "P2"), None)


def project_id(s: Session, code: str) -> int:
    """The id of project `code` (UNMAPPED is 0)."""
    return int(s.scalar(select(Project.id).where(Project.code == code)) or 0)


def test_map_add_refuses_a_merged_project_naming_the_one_it_went_into(ledger: Ledger) -> None:
    """Lines mapped to a merged project would count on a tombstone: refused, exit 2."""
    unmapped_erp_line(ledger)
    with ledger.session() as s:
        keep = add_project(s, "P2")
        s.execute(update(Project).where(Project.code == "P1").values(merged_into_id=keep))
        s.commit()
    err = refused(ledger.run("map", "add", "erp", "wbs", "W-1", "P1"))
    assert err == "error: project 'P1' was merged into 'P2': map to 'P2'\n"


def test_map_import_checks_each_row_as_map_add_does(ledger: Ledger, tmp_path: Path) -> None:
    """A row map add would refuse refuses the file, naming its line (exit 1, as for any bad
    row of the file); the good row before it is not stored."""
    unmapped_erp_line(ledger)
    csv = tmp_path / "maps.csv"
    for row, problem in (
        (
            "erp,wsb,W-2,P1",
            "unknown object type 'wsb': expected one of cost_center, "
            "opportunity, order, program, project, wbs",
        ),
        (
            "erp,wbs,W-2,UNMAPPED",
            "UNMAPPED is not a mapping target: a key without a mapping lands there",
        ),
    ):
        csv.write_text(
            f"source,object_type,external_id,project_code\nerp,wbs,W-1,P1\n{row}\n", "utf-8"
        )
        assert failed(ledger.run("map", "import", str(csv))) == (
            f"error: {csv}: line 3: {problem}\n"
        )
        with ledger.session() as s:
            assert s.scalar(select(func.count()).select_from(CostObjectMap)) == 0
            assert line(s, "e1", source="erp").project_id == UNMAPPED_ID
