"""Fixtures of the Workfront connector's end-to-end tests: one TLS identity per module and the
demo account (300 hours) served by the sandbox over HTTPS on 127.0.0.1. A test that needs
another account builds its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles, load_or_create
from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)
from tests.connectors.workfront.account import Account


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return load_or_create(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def account(tls: TlsFiles) -> Iterator[Account]:
    store = FakeWorkfront()
    seed = seed_demo(store, hours=300)
    user = ApiUser(user_id=seed.api_user_id)
    with WorkfrontSandbox(store, tls=tls, user=user) as server:
        yield Account(store, seed, server)
