"""No output of `db upgrade` shows a ledger URL's secret (issue 18 item 10): a password in a
query parameter or holding a raw `@` is masked in the summary, the logs and the errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.urls import mask_url
from tests.service.helpers import ROOT


def _upgrade(tmp_path: Path, url: str) -> subprocess.CompletedProcess[str]:
    """`pmo-ledger db upgrade` on `url`, every log line at DEBUG as JSON, stdout and stderr."""
    config = tmp_path / "pmo-ledger.toml"
    config.write_text(f'[ledger]\nurl = "{url}"\n', encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pmo_ledger.jobs.cli", "--config", str(config),
         "--log-format", "json", "--log-level", "DEBUG", "db", "upgrade"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _shows_none_of(done: subprocess.CompletedProcess[str], *secrets: str) -> None:
    for secret in secrets:
        assert secret not in done.stdout and secret not in done.stderr, (secret, done)


def test_a_sqlite_password_parameter_never_prints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}?password=hunter2-q"
    done = _upgrade(tmp_path, url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"upgraded sqlite:///{tmp_path / 'ledger.db'}?password=*** to ")
    _shows_none_of(done, "hunter2")


@pytest.mark.parametrize(
    "engine", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_postgresql_password_with_a_raw_at_or_in_the_query_never_prints(
    engine: Engine, tmp_path: Path
) -> None:
    """The test server trusts local connections: the password is sent and ignored, so the
    upgrade succeeds (the URL with a raw `@` reaches 127.0.0.1, not a host `t-pw@...`)."""
    url = engine.url.set(password=None).render_as_string(hide_password=False)
    at = url.replace("://postgres@", "://postgres:s3cr@t-pw@")
    done = _upgrade(tmp_path, at)
    assert done.returncode == 0, done.stderr
    head = migrate.heads(engine)[0]
    assert done.stdout == f"{mask_url(at)} is already at {head} (head)\n"
    assert "postgres:***@127.0.0.1" in done.stdout
    _shows_none_of(done, "s3cr", "t-pw")

    query = f"{url}?sslmode=disable&password=qs3cret"
    done = _upgrade(tmp_path, query)
    assert done.returncode == 0, done.stderr
    assert "password=***" in done.stdout
    _shows_none_of(done, "qs3cret")

    # And when the database is not there: the error line names the URL masked.
    missing = at.rsplit("/", 1)[0] + "/no_such_ledger"
    done = _upgrade(tmp_path, missing)
    assert done.returncode == 1
    assert mask_url(missing) in done.stderr
    _shows_none_of(done, "s3cr", "t-pw")
