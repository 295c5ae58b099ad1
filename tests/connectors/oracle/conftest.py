"""Fixtures of the Oracle connector's tests: the demo EBS (a smaller world) seeded once per
session into an SQLite file that each test copies, and, where a test asks for it, seeded into
the schema "APPS" of the PostgreSQL test database."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from pmo_ledger.connectors.oracle.sandbox.run import SCHEMA, create_seeded
from pmo_ledger.ledger.db import make_engine
from tests.connectors.oracle.source import WORLD, Source, open_source


@pytest.fixture(scope="session")
def ebs_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ebs") / "ebs.db"
    create_seeded(f"sqlite:///{path}", world=WORLD).engine.dispose()
    return path


@pytest.fixture
def source(ebs_template: Path, tmp_path: Path) -> Iterator[Source]:
    """The demo EBS in an SQLite file of this test's own."""
    path = tmp_path / "ebs.db"
    shutil.copy(ebs_template, path)
    src = open_source(f"sqlite:///{path}")
    yield src
    src.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_source(request: pytest.FixtureRequest) -> Iterator[Source]:
    """The demo EBS in SQLite, and in the PostgreSQL test database's schema APPS."""
    if request.param == "sqlite":
        yield request.getfixturevalue("source")
        return
    url: str = request.getfixturevalue("pg_database")
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE'))
    admin.dispose()
    create_seeded(url, world=WORLD).engine.dispose()
    src = open_source(url)
    yield src
    src.engine.dispose()
