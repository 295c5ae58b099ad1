"""`pmo-ledger verify` with the sample connector, on SQLite and PostgreSQL: its actuals'
counts, amounts and hours and its current budgets against the ledger, a line per stream and
one for the connector whether or not anything drifts, exit 4 on drift.

The expected figures are summed here from the sample's own pages (`extract`), not from its
control totals."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.errors import ConnectorTransientError, SourceError
from pmo_ledger.connectors.sample import SampleConnector, SampleSettings
from pmo_ledger.ledger.models import ControlTotal
from pmo_ledger.ledger.records import ActualRecord
from tests.jobs.test_cli_sync import Ledger, ok

D = Decimal
ZERO = Decimal(0)
CENT = Decimal("0.01")
Sums = dict[tuple[str | None, str | None], tuple[int, Decimal, Decimal]]


@pytest.fixture
def ledger(engine: Engine, tmp_path: Path) -> Ledger:
    """The test database (SQLite and PostgreSQL) with one sample connector, `demo`."""
    return Ledger(engine, tmp_path).configure({"demo": ""})


def extracted(**settings: object) -> Sums:
    """(count, amount, hours) per (project, currency) of a full read of the sample's actuals
    with these settings (the test config's size)."""
    sample = SampleConnector(
        SampleSettings.model_validate({"actuals": 200, "projects": 3, **settings}),
        ConnectorContext("demo"),
    )
    out: Sums = {}
    for page in sample.extract("actuals", ReadRequest()):
        for r in page.records:
            assert isinstance(r, ActualRecord)
            n, amount, hours = out.get((r.project_ref, r.currency), (0, ZERO, ZERO))
            out[(r.project_ref, r.currency)] = (
                n + 1,
                amount + (r.amount or 0),
                hours + (r.hours or 0),
            )
    return out


def stored(ledger: Ledger, stream: str) -> Sums:
    """The latest check's source figures of a stream in control_total."""
    with Session(ledger.engine) as s:
        rows = s.execute(
            select(
                ControlTotal.project_ref,
                ControlTotal.currency,
                ControlTotal.source_count,
                ControlTotal.source_amount,
                ControlTotal.source_hours,
            ).where(ControlTotal.stream == stream)
        ).all()
    return {(p, c): (n, a or ZERO, h or ZERO) for p, c, n, a, h in rows}


def test_verify_of_the_sample_prints_every_stream_and_the_result(ledger: Ledger) -> None:
    """Synced, the sample agrees on every measure: exit 0, a line per stream and one that
    says nothing drifts; the stored figures are the sample's own sums."""
    ok(ledger.run("sync", "demo"))
    expected = extracted()
    groups = len(expected)
    assert ok(ledger.run("verify", "demo")).splitlines() == [
        "budgets: 3 groups checked (count, budget, hours), no drift",
        f"actuals: {groups} groups checked (count, amount, hours), no drift",
        f"demo: 2 streams checked, {groups + 3} groups, no drift in counts, amounts, budgets "
        "or hours",
    ]
    assert stored(ledger, "actuals") == expected


def test_verify_of_the_sample_names_the_drift_of_a_later_round(ledger: Ledger) -> None:
    """The source moves on (round 1 edits every 7th line: labor a quarter hour more, expenses
    3% more) while the ledger does not: exit 4, a row per project, currency and measure that
    drifts, exactly the difference of the two rounds' sums."""
    ok(ledger.run("sync", "demo"))
    before, after = extracted(), extracted(round=1, edit_every=7)
    ledger.configure({"demo": "round = 1\nedit_every = 7\n"})
    result = ledger.run("verify", "demo", "--stream", "actuals")
    assert result.exit_code == 4, (result.stdout, result.stderr)
    rows = [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in result.stdout.splitlines()
        if line.startswith("│")
    ]
    want = []
    for key in sorted(after, key=lambda k: (k[0] or "", k[1] or "")):
        (n1, a1, h1), (n0, a0, h0) = after[key], before[key]
        for name, new, old in (("count", D(n1), D(n0)), ("amount", a1, a0), ("hours", h1, h0)):
            if new != old:
                places = Decimal(1) if name == "count" else CENT
                shown = [str(x.quantize(places)) for x in (new, old, new - old)]
                want.append(["actuals", str(key[0]), str(key[1]), name, *shown])
    assert rows == want and {r[3] for r in rows} == {"amount", "hours"}
    drifted = len({(r[1], r[2]) for r in rows})
    assert result.stdout.splitlines()[-2:] == [
        f"actuals: {len(after)} groups checked (count, amount, hours), drift in "
        f"{drifted} groups: amount, hours",
        f"demo: 1 stream checked, {len(after)} groups, drift in {drifted} groups: amount, hours",
    ]


@pytest.mark.parametrize(
    "error",
    [
        SourceError("QUERY_TOO_COMPLICATED: the aggregate query is too complex"),
        ConnectorTransientError("QUERY_TIMEOUT: your query took too long"),
    ],
    ids=["source_error", "transient"],
)
def test_a_stream_the_source_cannot_total_is_named_and_the_others_are_checked(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """The source fails the budgets' totals query: verify names that stream with the error,
    checks and stores the actuals, and exits 1."""
    ok(ledger.run("sync", "demo"))
    own = SampleConnector.control_totals

    def failing(self: SampleConnector, stream: str) -> Any:
        if stream == "budgets":
            raise error
        return own(self, stream)

    monkeypatch.setattr(SampleConnector, "control_totals", failing)
    result = ledger.run("verify", "demo")
    assert result.exit_code == 1, result.output
    groups = len(extracted())
    assert result.output.splitlines()[-4:] == [
        f"budgets: not checked: {error}",
        f"actuals: {groups} groups checked (count, amount, hours), no drift",
        f"demo: 1 stream checked, {groups} groups, no drift in counts, amounts or hours",
        "demo: 1 stream not checked: budgets",
    ]
    assert stored(ledger, "budgets") == {}
    assert stored(ledger, "actuals") != {}
