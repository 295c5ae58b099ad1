"""The demo SAP system, seeded once per test, reachable by the fake RFC module and by HTTPS
(the OData services on 127.0.0.1 with one TLS identity per module)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles, load_or_create
from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.odata import SapODataSandbox
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


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return load_or_create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server(system: SapSystem, seed: SeedSummary, tls: TlsFiles) -> Iterator[SapODataSandbox]:
    """The OData services on 127.0.0.1, 25 rows a page (so the seed pages)."""
    with SapODataSandbox(
        system, oauth_clients={"COMM_USER": "s3cret"}, page_size=25, tls=tls
    ) as running:
        yield running


def client_for(server: SapODataSandbox, **kwargs: Any) -> httpx.Client:
    """An httpx client on the sandbox that trusts its CA."""
    trust = ssl.create_default_context(cafile=str(server.ca_file))
    return httpx.Client(base_url=server.url, verify=trust, **kwargs)


@pytest.fixture
def odata(server: SapODataSandbox) -> Iterator[httpx.Client]:
    """Basic auth as the demo user, JSON asked by the Accept header."""
    with client_for(
        server, auth=(USER.user, USER.password), headers={"Accept": "application/json"}
    ) as client:
        yield client
