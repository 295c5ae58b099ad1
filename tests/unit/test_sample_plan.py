"""The sample world keeps to its plan (budgets and allocations cover what its lines spend and
book), two sources of one seed agree, and each planted problem changes what its knob says and
nothing else (issue 18, item 4)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.sample import SampleConnector, SampleSettings
from pmo_ledger.connectors.sample.world import convert_cents
from pmo_ledger.ledger.records import ActualRecord, AllocationRecord, BudgetRecord

SMALL = {"projects": 6, "actuals": 3000}
SHORT = {"project": "PRJ-0004", "cost_type": "subcontract", "first": "2025-05", "months": 4,
         "pct": 40}  # fmt: skip


def sample(**kw: Any) -> SampleConnector:
    return SampleConnector(SampleSettings(**kw), ConnectorContext("sample"))


def records(conn: SampleConnector, stream: str) -> list[Any]:
    return [r for p in conn.extract(stream, ReadRequest()) for r in p.records]


def spend(conn: SampleConnector) -> dict[tuple[str, str, str], int]:
    """Cents per (project, cost type, YYYY-MM) in the project's currency."""
    currency = {p.key: p.currency for p in conn.world.projects}
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in records(conn, "actuals"):
        cents = convert_cents(int(r.amount * 100), r.currency, currency[r.project_ref])
        out[(r.project_ref, r.cost_type, r.posted_on.isoformat()[:7])] += cents
    return out


def budgets(conn: SampleConnector, kind: str) -> dict[tuple[str, str, str], int]:
    """Cents per (project, cost type, period) of every project's `kind` version."""
    return {
        (b.project_ref, line.cost_type, line.period): int(line.amount * 100)
        for b in records(conn, "budgets")
        if isinstance(b, BudgetRecord) and b.kind == kind
        for line in b.lines
    }


def booked(conn: SampleConnector) -> dict[tuple[str, str, str], Decimal]:
    out: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for r in records(conn, "actuals"):
        if r.hours is not None:
            out[(r.project_ref, r.resource_ref, r.posted_on.isoformat()[:7])] += r.hours
    return out


def planned(conn: SampleConnector) -> dict[tuple[str, str, str], Decimal]:
    return {
        (a.project_ref, a.resource_ref, a.period): a.planned_hours
        for a in records(conn, "allocations")
        if isinstance(a, AllocationRecord)
    }


def test_the_default_world_budgets_and_plans_what_it_spends_and_books() -> None:
    """Every (project, cost type, month) spent has a baseline and a current budget above the
    spend (labor by 10% at least: 20% headroom, rates converted at the sample's cross rates),
    and every (project, resource, month) booked is planned above what is booked."""
    conn = sample()
    baseline, current = budgets(conn, "baseline"), budgets(conn, "current")
    spent = spend(conn)
    assert len(spent) == 290
    for key, cents in spent.items():
        assert baseline[key] * 100 >= cents * 110, key
        assert current[key] >= baseline[key], key
    plan = planned(conn)
    for key, hours in booked(conn).items():
        assert plan[key] >= hours * Decimal("1.2"), key


def test_two_sources_of_one_seed_post_the_same_lines_and_orphans_apart() -> None:
    """orphans = 5: five more lines, on PRJ-0007 (no such project in a 6-project world) and
    no task; the first 3,000 are the other source's, line for line."""
    psa, erp = records(sample(**SMALL), "actuals"), records(sample(**SMALL, orphans=5), "actuals")
    assert erp[:3000] == psa
    assert [(r.external_id, r.project_ref, r.task_ref) for r in erp[3000:]] == [
        (f"ACT-{i:09d}", "PRJ-0007", None) for i in range(3001, 3006)
    ]
    assert {p.key for p in sample(**SMALL, orphans=5).world.projects} == {
        f"PRJ-{i:04d}" for i in range(1, 7)
    }


def test_markup_raises_one_projects_cost_type_in_its_months_only() -> None:
    """markup 50% on PRJ-0003 labor 2025-05..07: those lines cost 1.5 times as much (cents
    rounded down), every other line is unchanged."""
    markup = {"project": "PRJ-0003", "cost_type": "labor", "first": "2025-05", "months": 3,
              "pct": 50}  # fmt: skip
    plain = records(sample(**SMALL), "actuals")
    marked = records(sample(**SMALL, planted={"markup": markup}), "actuals")
    changed = 0
    for a, b in zip(plain, marked, strict=True):
        assert isinstance(a, ActualRecord) and isinstance(b, ActualRecord)
        month = a.posted_on.isoformat()[:7]
        if a.project_ref == "PRJ-0003" and a.cost_type == "labor" and "2025-05" <= month <= "2025-07":
            assert int(b.amount * 100) == int(a.amount * 100) * 150 // 100
            changed += 1
        else:
            assert b == a
    assert changed > 100


def test_short_budget_cuts_the_current_version_in_its_months_only() -> None:
    """PRJ-0004's current subcontract budget in 2025-05..08 is 40% of the spend (cents
    rounded down); its baseline and every other line are the plain world's."""
    plain = sample(**SMALL)
    short = sample(**SMALL, planted={"short_budget": SHORT})
    spent = spend(plain)
    cut = {("PRJ-0004", "subcontract", f"2025-{m:02d}") for m in range(5, 9)}
    assert budgets(short, "baseline") == budgets(plain, "baseline")
    before, after = budgets(plain, "current"), budgets(short, "current")
    assert {k for k in before if before[k] != after[k]} == cut
    for key in cut:
        plan = spent[key] * 120 // 100  # the plan: the spend with 20% headroom
        assert after[key] == plan * 40 // 120


def test_slipping_and_overbooked() -> None:
    """slipping PRJ-0005 (finished by the status date in the plain world): 50.00% complete and
    active; overbooked RES-0009: a third of its planned hours (hundredths rounded down)."""
    plain = sample(**SMALL)
    planted = sample(**SMALL, planted={"slipping": "PRJ-0005", "overbooked": "RES-0009"})

    def state(conn: SampleConnector) -> dict[str, tuple[str, Decimal]]:
        return {p.external_id: (p.status, p.percent_complete) for p in records(conn, "projects")}

    before, after = state(plain), state(planted)
    assert before["PRJ-0005"] == ("Completed", Decimal("100.00"))
    assert after["PRJ-0005"] == ("Active", Decimal("50.00"))
    assert {k: v for k, v in after.items() if k != "PRJ-0005"} == {
        k: v for k, v in before.items() if k != "PRJ-0005"
    }
    a, b = planned(plain), planned(planted)
    assert {k for k in a if a[k] != b[k]} == {k for k in a if k[1] == "RES-0009" and a[k]}
    for key in a:
        if key[1] == "RES-0009":
            assert b[key] == Decimal(int(a[key] * 100) // 3) / 100


@pytest.mark.parametrize(
    "planted",
    [{"slip": "PRJ-0001"}, {"slipping": "P1"}, {"short_budget": {**SHORT, "first": "2025-13"}},
     {"markup": {**SHORT, "extra": 1}}],
)  # fmt: skip
def test_planted_knobs_are_checked(planted: dict[str, Any]) -> None:
    """An unknown knob, a project that is no sample key, a month 13 and an unknown key in a
    change are refused with the settings."""
    with pytest.raises(ValidationError):
        SampleSettings(planted=planted)
