"""Terminal output fits 80 columns, and the sync summary's counts add up (issue 18 item 6).

With COLUMNS=80 (as at an 80-column terminal) every line of the sync summary, `runs`,
`runs show` and `connectors` is at most 80 characters; the summary's legend says what its
columns count and the figures of every stream add up by it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pmo_ledger.jobs.cli import make_cli
from pmo_ledger.jobs.logconfig import reset_logging
from tests.jobs.test_cli_sync import Ledger, ok, row

#: The summary's count columns, after `stream`.
COUNTS = ("read", "new", "changed", "same", "held", "other")


def narrow(ledger: Ledger, *args: str, code: int = 0) -> str:
    """`pmo-ledger ARGS...` with COLUMNS=80; its stdout, every line checked to fit."""
    assert ledger.config is not None
    try:
        result: Result = CliRunner(env={"COLUMNS": "80"}).invoke(
            make_cli(), ["--config", str(ledger.config), *args]
        )
    finally:
        reset_logging()
    stdout = ok(result, code)
    wide = [line for line in stdout.splitlines() if len(line) > 80]
    assert not wide, "\n".join(wide)
    return stdout


@pytest.fixture
def ledger(engine: Engine, tmp_path: Path) -> Ledger:
    """An ERP-like connector whose projects are not the authority (its actuals wait under
    UNMAPPED, written and quarantined) and which rejects every 10th line."""
    return Ledger(engine, tmp_path).configure({"erp": "reject_every = 10\n", "demo": ""})


def test_the_sync_summary_fits_80_columns_and_adds_up(ledger: Ledger) -> None:
    stdout = narrow(ledger, "sync", "erp")
    assert "read = new + changed + same + held + other" in stdout
    actuals = row(stdout, "actuals")
    figures = dict(zip(COUNTS, (int(c.replace(",", "")) for c in actuals[1:7]), strict=True))
    assert figures["read"] == 200  # 180 records and 20 rejected lines
    assert figures["held"] == 20  # the rejected lines: the others are written
    assert figures["new"] == 180
    assert figures["read"] == sum(v for k, v in figures.items() if k != "read")
    # 180 actual lines under UNMAPPED, and the tasks and allocations of unknown projects
    assert "300 of the records written or unchanged wait for a mapping" in stdout
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) >= 7 and cells[1].replace(",", "").isdigit():
            counts = [int(c.replace(",", "")) for c in cells[1:7]]
            assert counts[0] == sum(counts[1:]), line


def test_runs_and_connectors_fit_80_columns(ledger: Ledger) -> None:
    narrow(ledger, "sync", "erp")
    narrow(ledger, "runs")
    narrow(ledger, "runs", "show", "1")
    narrow(ledger, "connectors")
