"""The connector's read path never loads the sandbox's fakes (connectors/sap/sandbox): only
`SapConnector.sandbox()` imports them. A process of its own, so no other test has loaded them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

LAUNCH = """
import sys
from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.sap import SapConnector, SapSettings
from tests.connectors.sap.sap_system import new_system, settings, use
for _ in use(new_system()):
    table = {k: v for k, v in settings().items() if k != "kind"}
    c = SapConnector(SapSettings.model_validate(table), ConnectorContext("erp"))
    n = sum(len(p.records) for p in c.extract("projects", ReadRequest()))
    loaded = sorted(m for m in sys.modules if m.startswith("pmo_ledger.connectors.sap.sandbox"))
    print(n, loaded)
"""


def test_reading_loads_no_fake() -> None:
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", LAUNCH], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "2 []", done.stderr
