"""The Oracle connector's flavors behind one kind: `flavor = "fusion"` reads the Fusion pod
through the Fusion reader (streams, sync, verify); `pmo-ledger sandbox --kind oracle` serves
both stand-ins and prints settings that read them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from pmo_ledger.connectors.base import ConnectorContext, ReadRequest, SandboxOptions
from pmo_ledger.connectors.oracle import OracleConnector, OracleSettings
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify


def test_the_fusion_flavor_syncs_the_pod_and_verifies_without_drift(
    engine: Engine, tmp_path: Path
) -> None:
    from pmo_ledger.connectors.oracle.sandbox.fusion_data import FusionData
    from pmo_ledger.connectors.oracle.sandbox.fusion_server import FusionSandbox
    from pmo_ledger.connectors.workfront.sandbox.psa_mirror import PsaWorld

    with FusionSandbox(FusionData(PsaWorld(actuals=300))) as pod:
        connector = {"kind": "oracle", "flavor": "fusion", "fusion": pod.settings()}
        ledger = {"url": engine.url.render_as_string(hide_password=False),
                  "base_currency": "USD"}  # fmt: skip
        app = App(parse_config({"ledger": ledger, "connectors": {"fin": connector}}, {},
                               tmp_path), None, _engine=engine)  # fmt: skip
        built = app.connector("fin")
        assert isinstance(built, OracleConnector)
        assert list(built.streams) == ["projects", "tasks", "budgets", "actuals"]
        built.check()
        built.close()
        result = run_sync(app, "fin")
        assert result.status == "succeeded", result.message
        checked = verify(app, "fin", ["actuals", "budgets"])
    assert checked.streams and all(not s.error for s in checked.streams)
    assert not checked.drift, [d for s in checked.streams for d in s.drifted]
    assert len({d.project_ref for s in checked.streams for d in s.drifts}) >= 5


def test_the_sandbox_serves_ebs_and_fusion_with_settings_that_read_them() -> None:
    with OracleConnector.sandbox(SandboxOptions()) as box:
        settings = OracleSettings.model_validate(box.settings)
        ebs = OracleConnector(settings, ConnectorContext("ebs"))
        ebs.check()
        projects = [p for page in ebs.extract("projects", ReadRequest()) for p in page.records]
        ebs.close()
        text = "\n".join(box.lines)
    assert sorted(p.external_id for p in projects) == [f"PRJ-000{i}" for i in range(1, 7)]
    assert box.table == "ebs" and settings.schema_name == "APPS"
    assert 'flavor = "fusion"' in text and "[connectors.fusion.fusion]" in text
    assert "password = " in text and "base_url = \"https://127.0.0.1:" in text
