"""Fixtures of the Workfront sandbox's tests: one TLS identity per module, the demo account
(seeded with 300 hours, so a search pages), the sandbox serving it on 127.0.0.1, and an httpx
client on its API URL that sends the API key."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import httpx
import pytest

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles, load_or_create
from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    DemoSeed,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return load_or_create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def store() -> FakeWorkfront:
    return FakeWorkfront()


@pytest.fixture
def seed(store: FakeWorkfront) -> DemoSeed:
    return seed_demo(store, hours=300)


@pytest.fixture
def server(store: FakeWorkfront, seed: DemoSeed, tls: TlsFiles) -> Iterator[WorkfrontSandbox]:
    user = ApiUser(user_id=seed.api_user_id)
    with WorkfrontSandbox(store, tls=tls, user=user) as running:
        yield running


def client_for(server: WorkfrontSandbox, **headers: str) -> httpx.Client:
    """An httpx client on the sandbox's API URL that trusts its CA."""
    trust = ssl.create_default_context(cafile=str(server.ca_file))
    return httpx.Client(base_url=server.api_url, verify=trust, headers=headers)


@pytest.fixture
def api(server: WorkfrontSandbox) -> Iterator[httpx.Client]:
    with client_for(server, apiKey=server.user.api_key) as client:
        yield client
