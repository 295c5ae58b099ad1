"""The Workfront connector against a fake that behaves the documented alternative ways: a
`Date` header on the wall clock, the API key read only as a parameter, a login read only from
the query, a journal that records nothing, and more (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)
from pmo_ledger.jobs.sync import run_sync
from tests.connectors.workfront.account import Account, ledger_totals, wf_app


def _served(tls: TlsFiles, **options: object) -> Iterator[Account]:
    store = FakeWorkfront()
    seed = seed_demo(store, hours=300)
    user = ApiUser(user_id=seed.api_user_id)
    with WorkfrontSandbox(store, tls=tls, user=user, **options) as server:  # type: ignore[arg-type]
        yield Account(store, seed, server)


@pytest.fixture
def wall_clock(tls: TlsFiles) -> Iterator[Account]:
    yield from _served(tls, wall_clock_date=True)


def test_an_edit_stamped_before_a_wall_clock_date_header_is_read(
    engine: Engine, tmp_path: Path, wall_clock: Account
) -> None:
    """The fake's rows are stamped by its own clock (mid-2025), its Date header is today:
    a checkpoint taken from the Date would put every later edit behind the cursor."""
    app = wf_app(engine, tmp_path, wall_clock)
    assert run_sync(app, "wf").status == "succeeded"
    wall_clock.server.change_hour(wall_clock.approved_hours()[0], hours=Decimal("9.5"))
    wall_clock.server.delete_hour(wall_clock.approved_hours()[1])
    result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == wall_clock.source_totals()


def test_scan_mode_with_a_wall_clock_date_still_reads_edits(
    engine: Engine, tmp_path: Path, wall_clock: Account
) -> None:
    app = wf_app(engine, tmp_path, wall_clock, deletes="scan")
    assert run_sync(app, "wf").status == "succeeded"
    wall_clock.server.disable_journal()
    wall_clock.server.change_hour(wall_clock.approved_hours()[0], hours=Decimal("7.25"))
    wall_clock.server.delete_hour(wall_clock.approved_hours()[1])
    result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == wall_clock.source_totals()
