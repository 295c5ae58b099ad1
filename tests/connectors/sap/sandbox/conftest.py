"""The demo SAP system, seeded once per test, reachable by the fake RFC module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.seed import USER, SeedSummary, seed_demo
from pmo_ledger.connectors.sap.sandbox.system import SapSystem

HOST = "sap-fake.test"


@pytest.fixture
def system() -> Iterator[SapSystem]:
    sap = SapSystem()
    yield sap
    sap.close()


@pytest.fixture
def seed(system: SapSystem) -> SeedSummary:
    return seed_demo(system)


@pytest.fixture
def logon(seed: SeedSummary, system: SapSystem) -> Iterator[dict[str, str]]:
    """The logon parameters of the seeded system (registered while the test runs)."""
    with fakerfc.register(system, ashost=HOST, sysnr="00", dest="PMO", mshost="ms." + HOST):
        yield {
            "ashost": HOST,
            "sysnr": "00",
            "client": "100",
            "user": USER.user,
            "passwd": USER.password,
            "lang": "EN",
        }


@pytest.fixture
def conn(logon: dict[str, str]) -> Iterator[fakerfc.Connection]:
    with fakerfc.Connection(**logon) as connection:
        yield connection


def read(
    conn: fakerfc.Connection,
    table: str,
    fields: list[str],
    where: list[str] | None = None,
    **params: Any,
) -> list[dict[str, str]]:
    """RFC_READ_TABLE rows cut by the answer's FIELDS offsets and lengths."""
    answer = conn.call(
        "RFC_READ_TABLE",
        QUERY_TABLE=table,
        DELIMITER="|",
        FIELDS=[{"FIELDNAME": f} for f in fields],
        OPTIONS=[{"TEXT": line} for line in where or []],
        **params,
    )
    layout = [(f["FIELDNAME"], int(f["OFFSET"]), int(f["LENGTH"])) for f in answer["FIELDS"]]
    return [
        {name: row["WA"][offset : offset + length].strip() for name, offset, length in layout}
        for row in answer["DATA"]
    ]
