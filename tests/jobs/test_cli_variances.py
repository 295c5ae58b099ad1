"""`pmo-ledger variances` as JSON and CSV say how many variances there are (issue 18, item 4):
JSON is the page `GET /variances` answers (`items`, `total`, `limit`, `offset`), row for row;
CSV stays rows only on stdout and names the total and the rows on stderr. Both engines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import Result

from pmo_ledger.jobs.service.api import create_api
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.worker import Worker
from pmo_ledger.ledger.models import Variance, utcnow
from tests.jobs.test_cli import invoke, write_config
from tests.service.helpers import make_app

#: 74 findings: 3 rules over 7 projects, a third of them high, every fifth resolved.
N = 74


@pytest.fixture
def config(engine: Engine, tmp_path: Path) -> Path:
    now = utcnow()
    with Session(engine) as s:
        s.add_all(
            Variance(
                rule=("budget_overrun", "burn_rate", "hours_overrun")[i % 3],
                subject_type="project",
                subject_id=f"PRJ-{i % 7:04d} Northwind ERP migration",
                dimension=("labor", "travel", "total")[i % 3],
                period=f"2025-{i % 12 + 1:02d}",
                severity=("high", "medium", "low")[i % 3],
                status=("open", "resolved")[i % 5 == 0],
                message=f"actual 1,234,567.{i:02d} USD above budget 1,000,000.00 USD by 23.5%",
                measures={"actual": f"1234567.{i:02d}", "budget": "1000000.00", "pct": "23.5"},
                thresholds={"pct": "10", "amount": "1000"},
                as_known_at=now,
                first_seen_at=now,
                last_seen_at=now,
                reopened_count=i % 2,
            )
            for i in range(N)
        )
        s.commit()
    return write_config(tmp_path, engine.url.render_as_string(hide_password=False))


@pytest.fixture
def api(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    worker = Worker(make_app(engine, tmp_path, {"psa": ""}), Notifier([]))
    with TestClient(create_api(worker, lambda: True)) as client:
        yield client
    worker.stop(5)


def listed(config: Path, *args: str) -> Result:
    result = invoke(config, "variances", *args)
    assert result.exit_code == 0, result.output
    return result


def test_json_is_the_page_get_variances_answers(config: Path, api: TestClient) -> None:
    for cli, query in (
        (("--limit", "50"), {"limit": 50}),
        (("--limit", "50", "--offset", "50"), {"limit": 50, "offset": 50}),
        (("--severity", "high", "--limit", "5", "--offset", "3"),
         {"severity": "high", "limit": 5, "offset": 3}),
    ):  # fmt: skip
        page = json.loads(listed(config, "--format", "json", *cli).stdout)
        assert page == api.get("/variances", params=query).json()
    first = json.loads(listed(config, "--format", "json", "--limit", "50").stdout)
    assert (first["total"], first["limit"], first["offset"], len(first["items"])) == (N, 50, 0, 50)
    newest_high = first["items"][0]  # most severe, newest first: i = 72
    assert (newest_high["severity"], newest_high["subject_id"]) == (
        "high", "PRJ-0002 Northwind ERP migration"
    )  # fmt: skip
    assert newest_high["measures"] == {
        "actual": "1234567.72",
        "budget": "1000000.00",
        "pct": "23.5",
    }
    rest = json.loads(listed(config, "--format", "json", "--offset", "50").stdout)
    assert (rest["total"], rest["limit"], rest["offset"], len(rest["items"])) == (N, None, 50, 24)
    high = json.loads(listed(config, "--format", "json", "--severity", "high").stdout)
    assert high["total"] == len(high["items"]) == 25  # i % 3 == 0 for i < 74


def test_csv_is_rows_on_stdout_and_the_total_on_stderr(config: Path) -> None:
    first = listed(config, "--format", "csv", "--limit", "50")
    rows = list(csv.DictReader(first.stdout.splitlines()))
    assert len(rows) == 50 and first.stdout.count("\n") == 51  # a header and the rows only
    assert rows[0]["subject_id"] == "PRJ-0002 Northwind ERP migration"  # i = 72, as in JSON
    assert json.loads(rows[0]["measures"])["actual"] == "1234567.72"
    assert first.stderr == "74 variances; rows 1-50\n"
    second = listed(config, "--format", "csv", "--limit", "50", "--offset", "50")
    assert len(list(csv.DictReader(second.stdout.splitlines()))) == 24
    assert second.stderr == "74 variances; rows 51-74\n"
    past = listed(config, "--format", "csv", "--offset", "80")
    assert past.stdout.splitlines()[0].startswith("id,rule,subject_type,subject_id")
    assert past.stdout.count("\n") == 1
    assert past.stderr == "74 variances; no rows past 80\n"
    none = listed(config, "--format", "csv", "--rule", "data_quality")
    assert none.stderr == "0 variances\n"
    one = listed(config, "--format", "csv", "--severity", "high", "--limit", "1")
    assert one.stderr == "25 variances; rows 1-1\n"


def test_csv_writes_timestamps_as_json_does_iso_8601_utc(config: Path) -> None:
    """first_seen_at and last_seen_at are ISO 8601 with a `Z`, the same text as in JSON (it
    was '2026-12-07 10:48:29', with no zone)."""
    rows = list(csv.DictReader(listed(config, "--format", "csv", "--limit", "3").stdout.splitlines()))
    items = json.loads(listed(config, "--format", "json", "--limit", "3").stdout)["items"]
    for row, item in zip(rows, items, strict=True):
        for field in ("first_seen_at", "last_seen_at"):
            assert row[field] == item[field]
            assert row[field].endswith("Z") and "T" in row[field]
            seen = datetime.fromisoformat(row[field])
            assert seen.utcoffset() == timedelta(0)
            assert abs(seen - datetime.now(UTC)) < timedelta(hours=1)  # the fixture's utcnow()
        assert row["acknowledged_by"] == ""  # None stays an empty cell
