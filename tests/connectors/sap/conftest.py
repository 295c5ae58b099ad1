from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.connectors.sap.sap_system import new_system, use
from tests.connectors.sap.stub_rfc import System


@pytest.fixture
def system() -> Iterator[System]:
    """The stub RFC module's SAP system for one test."""
    yield from use(new_system())
