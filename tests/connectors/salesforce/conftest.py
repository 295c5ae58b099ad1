"""Fixtures of the Salesforce connector's tests: one TLS identity per module (a trustme CA and
server certificate, written by the sandbox's `load_or_create`), the PSA org of
`psa_org.build_org`, and the sandbox serving it over HTTPS on 127.0.0.1 with pages of 5 rows
(so every read pages). A module that needs another org or server defines its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pmo_ledger.connectors.salesforce.sandbox import SandboxServer, TlsFiles, load_or_create
from tests.connectors.salesforce.psa_org import PsaOrg, build_org


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return load_or_create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def psa() -> PsaOrg:
    return build_org()


@pytest.fixture
def server(psa: PsaOrg, tls: TlsFiles) -> Iterator[SandboxServer]:
    with SandboxServer(psa.org, tls=tls, page_size=5) as running:
        yield running
