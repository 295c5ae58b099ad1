"""The kit stays light: importing its modules loads no SQLAlchemy (a connector never opens
the ledger). Checked in a fresh interpreter, where sys.modules starts empty."""

from __future__ import annotations

import subprocess
import sys

import pytest


def loads(module: str, probe: str) -> bool:
    """Whether a fresh interpreter that imports `module` has `probe` in sys.modules."""
    code = f"import sys, {module}; print({probe!r} in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return out.strip() == "True"


@pytest.mark.parametrize(
    "module",
    [
        "pmo_ledger.connectors.kit",
        "pmo_ledger.connectors.kit.errors",
        "pmo_ledger.connectors.kit.http",
        "pmo_ledger.connectors.kit.pages",
        "pmo_ledger.connectors.kit.sandbox_clock",
        "pmo_ledger.connectors.kit.sandbox_https",
        "pmo_ledger.connectors.kit.sandbox_tls",
    ],
)
def test_kit_modules_load_no_sqlalchemy(module: str) -> None:
    assert not loads(module, "sqlalchemy")


def test_the_kit_package_loads_no_http_stack() -> None:
    """A connector that does not speak HTTP (the sample) does not load httpx or tenacity."""
    assert not loads("pmo_ledger.connectors.kit.pages", "httpx")
    assert not loads("pmo_ledger.connectors.kit.pages", "tenacity")
