"""`pmo-ledger demo`: the sample portfolio's exact figures, computed by hand, on SQLite and
PostgreSQL; a second run changes nothing.

Hand computation (cost rates x hours; EUR at 1.0850 from 2025-09-01, 1.0950 from 2025-10-01;
per line ROUND_HALF_UP to cents):
- PRJ-1001: 40h x 85 USD = 3400.00; 32h x 100 EUR = 3200.00 EUR = 3472.00; 24h x 90 = 2160.00
  -> 9032.00, 96 h; budget 18000 + 22000 + 20000 = 60000.00.
- PRJ-1002: 16.5h x 105 EUR = 1732.50 EUR = 1897.0875 -> 1897.09; 8h x 90 = 720.00
  -> 2617.09, 24.5 h; budget 50000.00 phased linearly over six months.
- PRJ-1003: psa 30h x 85 = 2550.00; 40h x 105 EUR = 4200.00 EUR = 4599.00; erp expenses
  12500.00 USD and 1840.50 EUR = 2015.3475 -> 2015.35; erp labor 2550.00 does not count
  -> 21664.35, 70 h; budget 30000 + 25000 + 35000 + 30000 = 120000.00.
- PRJ-1004: 8h x 100 EUR = 800.00 EUR = 868.00; 12h x 90 = 1080.00 -> 1948.00, 20 h;
  budget 15000 + 20000 = 35000.00.
- erp WBS OPS-7781.2 matches no rule: 1275.00 USD waits on UNMAPPED.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pmo_ledger.jobs.demo import DemoDataError, default_portfolio, read_portfolio
from pmo_ledger.ledger.models import ActualLine, BudgetEntry, BudgetLine, LedgerEntry, Quarantine
from tests.jobs.test_cli import invoke, ok

DEMO_TOML = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
EXPECTED = [
    ["PRJ-1001", "Customer Portal Redesign", "60000.00", "9032.00", "50968.00", "96.00"],
    ["PRJ-1002", "Mobile App Launch", "50000.00", "2617.09", "47382.91", "24.50"],
    ["PRJ-1003", "ERP Finance Upgrade (S/4HANA)", "120000.00", "21664.35", "98335.65", "70.00"],
    ["PRJ-1004", "Warehouse Automation Pilot", "35000.00", "1948.00", "33052.00", "20.00"],
    ["total", "", "265000.00", "35261.44", "229738.56", "210.50"],
]


def demo_config(tmp_path: Path, url: str) -> Path:
    """config/demo.toml pointing at `url`."""
    text = DEMO_TOML.read_text(encoding="utf-8")
    text, n = re.subn(r'(?m)^url = ".*"$', f'url = "{url}"', text)
    assert n == 1
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def table_rows(out: str) -> list[list[str]]:
    """The cells of every body row of the rich tables in `out`."""
    return [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in out.splitlines()
        if line.startswith("│")
    ]


def ledger_counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            m.__tablename__: int(s.scalar(select(func.count()).select_from(m)) or 0)
            for m in (ActualLine, LedgerEntry, BudgetLine, BudgetEntry, Quarantine)
        }


def test_demo_prints_the_hand_computed_totals(engine: Engine, tmp_path: Path) -> None:
    """Budget, actual, variance and hours per project are exact; the unmapped posting and the
    authority note are printed."""
    config = demo_config(tmp_path, engine.url.render_as_string(hide_password=False))
    out = ok(invoke(config, "demo"))
    assert "Budget vs actual (USD)" in out
    assert table_rows(out) == EXPECTED
    assert (
        "Unmapped: 1 erp posting (1275.00 USD) on wbs OPS-7781.2 waits on UNMAPPED, "
        f"quarantined 'unmapped'; map with: pmo-ledger --config {config} map add erp wbs "
        "OPS-7781.2 PROJECT_CODE"
    ) in out
    assert "Only the authority's lines count" in out
    assert "Not counted: 1 erp labor line (2550.00 USD): erp is not the labor authority" in out


def test_demo_load_counts_add_up(engine: Engine, tmp_path: Path) -> None:
    """The load line's figures add up, and the posting parked under UNMAPPED (written and
    quarantined) is counted once, as new, and named on its own line (issue 18 item 6)."""
    config = demo_config(tmp_path, engine.url.render_as_string(hide_password=False))
    out = ok(invoke(config, "demo"))
    line = out.splitlines()[1]
    read, rest = line.split(" records read = ")
    parts = [p.split(" ") for p in rest.split(" + ")]
    figures = {name: int(count.replace(",", "")) for count, name in parts}
    assert list(figures) == ["new", "changed", "same", "held", "other"]
    assert int(read.replace(",", "")) == sum(figures.values())
    assert figures["new"] > 0 and figures["same"] == 0
    assert "\n1 of the records written or unchanged wait for a mapping (also held)\n" in out


def test_demo_twice_is_idempotent(engine: Engine, tmp_path: Path) -> None:
    """The second run replays the same batches: no line, entry or quarantine row changes."""
    config = demo_config(tmp_path, engine.url.render_as_string(hide_password=False))
    ok(invoke(config, "demo"))
    before = ledger_counts(engine)
    assert before["ledger_entry"] > 0
    out = ok(invoke(config, "demo"))
    assert ledger_counts(engine) == before
    assert " = 0 new + 0 changed + " in out.splitlines()[1]  # nothing written
    assert table_rows(out) == EXPECTED


def test_demo_upgrades_a_new_file_and_the_unmapped_posting_can_be_mapped(
    tmp_path: Path,
) -> None:
    """On a new SQLite file the demo migrates first; mapping the posting moves it to a project."""
    db = tmp_path / "pmo-ledger.db"
    config = demo_config(tmp_path, f"sqlite:///{db}")
    ok(invoke(config, "demo"))
    out = ok(invoke(config, "map", "add", "erp", "wbs", "OPS-7781.2", "PRJ-1004"))
    assert out.splitlines() == [
        "mapped erp wbs OPS-7781.2 -> PRJ-1004; 1 line re-pointed",
        "  UNMAPPED -> PRJ-1004: 1 line, 1275.00 USD",
    ]
    rows = table_rows(ok(invoke(config, "demo")))
    assert rows[3] == [
        "PRJ-1004",
        "Warehouse Automation Pilot",
        "35000.00",
        "3223.00",
        "31777.00",
        "20.00",
    ]
    assert "Unmapped:" not in ok(invoke(config, "demo"))


def test_demo_needs_its_connectors(tmp_path: Path) -> None:
    """Without connectors psa and erp configured the demo refuses in one line."""
    config = tmp_path / "plain.toml"
    config.write_text(f'[ledger]\nurl = "sqlite:///{tmp_path / "x.db"}"\n', encoding="utf-8")
    result = invoke(config, "demo")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the demo loads data of erp, psa: configure [connectors.erp] and "
        "[connectors.psa] (see config/demo.toml)\n"
    )


def test_portfolio_amounts_are_exact_strings() -> None:
    """Every amount, rate and hours value in the sample file is a string, not a JSON number."""
    data = json.loads(default_portfolio().read_text(encoding="utf-8"))

    def numbers(value: object) -> list[object]:
        if isinstance(value, dict):
            return [n for v in value.values() for n in numbers(v)]
        if isinstance(value, list):
            return [n for v in value for n in numbers(v)]
        return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []

    assert numbers(data) == []
    hours = [
        r.hours
        for b in read_portfolio(default_portfolio())
        for r in b.records
        if b.stream == "timecards"
    ]
    assert sum(hours, Decimal(0)) == Decimal("210.5")


def test_bad_portfolio_names_the_batch(tmp_path: Path) -> None:
    """A record the ledger cannot read is refused with the file and batch index."""
    path = tmp_path / "p.json"
    path.write_text(
        json.dumps(
            {"batches": [{"source": "psa", "stream": "x", "type": "NopeRecord", "records": [{}]}]}
        ),
        encoding="utf-8",
    )
    with pytest.raises(DemoDataError, match=r"p\.json: batches\[0\]: unknown record type"):
        read_portfolio(path)
