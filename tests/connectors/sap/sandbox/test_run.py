"""running(): the settings a person pastes read the OData services; the RFC line's logon
works in this process and through the database file."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path

import httpx

from pmo_ledger.connectors.base import SandboxOptions
from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.run import RFC_HOST, RFC_MODULE, running
from pmo_ledger.connectors.sap.sandbox.seed import USER


def _logon() -> dict[str, str]:
    """The logon the sandbox prints, without fake_db (this process)."""
    return {
        "ashost": RFC_HOST,
        "sysnr": "00",
        "client": "100",
        "user": USER.user,
        "passwd": USER.password,
    }


def test_running_serves_odata_with_its_settings(tmp_path: Path) -> None:
    """base_url, username, password, sap_client and ca_bundle read the projects; the lines name
    the fake RFC module and its logon."""
    with running(SandboxOptions(cert_dir=tmp_path, page_size=7)) as sandbox:
        settings = sandbox.settings
        assert settings["transport"] == "odata"
        assert sandbox.table == "sap"
        trust = ssl.create_default_context(cafile=settings["ca_bundle"])
        with httpx.Client(
            verify=trust, auth=(settings["username"], settings["password"])
        ) as client:
            answer = client.get(
                f"{settings['base_url']}/sap/opu/odata/sap/API_ENTERPRISE_PROJECT_SRV/A_EnterpriseProjectElement",
                params={"sap-client": settings["sap_client"], "$format": "json"},
            )
        assert len(answer.json()["d"]["results"]) == 7
        assert "__next" in answer.json()["d"]
        text = "\n".join(sandbox.lines)
        assert f'rfc_module = "{RFC_MODULE}"' in text
        assert RFC_MODULE == "pmo_ledger.connectors.sap.sandbox.fakerfc"


def test_rfc_logon_in_process_and_through_the_file(tmp_path: Path) -> None:
    """The printed logon reads T001 by ashost in this process and, with fake_db, from a
    fresh system opened on the file (what another process does); the file goes at the end."""
    with running(SandboxOptions(cert_dir=tmp_path)) as sandbox:
        line = next(line for line in sandbox.lines if "fake_db" in line)
        database = line.split('fake_db = "')[1].rstrip('"')
        logon = _logon()
        with fakerfc.Connection(**logon) as conn:
            in_process = conn.call(
                "RFC_READ_TABLE", QUERY_TABLE="T001", FIELDS=[{"FIELDNAME": "WAERS"}]
            )
        with fakerfc.Connection(**{**logon, "ashost": "anywhere", "fake_db": database}) as conn:
            from_file = conn.call(
                "RFC_READ_TABLE", QUERY_TABLE="T001", FIELDS=[{"FIELDNAME": "WAERS"}]
            )
        assert in_process["DATA"] == from_file["DATA"] == [{"WA": "EUR"}, {"WA": "USD"}]
    assert not Path(database).exists()


def test_dirty_adds_an_unknown_project_and_an_order(tmp_path: Path) -> None:
    """dirty: PRJ-0007 and an internal order's posting are there."""
    with running(SandboxOptions(cert_dir=tmp_path, dirty=True)) as sandbox:
        logon = _logon()
        with fakerfc.Connection(**logon) as conn:
            projects = conn.call(
                "RFC_READ_TABLE", QUERY_TABLE="PROJ", FIELDS=[{"FIELDNAME": "PSPID"}]
            )
            orders = conn.call(
                "RFC_READ_TABLE",
                QUERY_TABLE="COSP",
                FIELDS=[{"FIELDNAME": "OBJNR"}],
                OPTIONS=[{"TEXT": "OBJNR LIKE 'OR%'"}],
            )
        assert projects["DATA"][-1] == {"WA": "PRJ-0007"}
        assert orders["DATA"] == [{"WA": "OR000000400001"}]
        assert "7 projects" in sandbox.lines[0]


def test_another_process_reads_the_sandbox_over_rfc(tmp_path: Path) -> None:
    """What `pmo-ledger sync` in another process does: Connection(**printed logon) with the
    fake module, here in a child interpreter, reads the sandbox's rows."""
    with running(SandboxOptions(cert_dir=tmp_path)) as sandbox:
        line = next(line for line in sandbox.lines if "fake_db" in line)
        database = line.split('fake_db = "')[1].rstrip('"')
        code = (
            "import json, sys\n"
            f"from {RFC_MODULE} import Connection\n"
            "with Connection(**json.loads(sys.argv[1])) as conn:\n"
            "    answer = conn.call('RFC_READ_TABLE', QUERY_TABLE='PROJ', DELIMITER='|',"
            " FIELDS=[{'FIELDNAME': 'PSPID'}, {'FIELDNAME': 'PWHIE'}])\n"
            "print(json.dumps([row['WA'] for row in answer['DATA']]))\n"
        )
        logon = json.dumps({**_logon(), "ashost": "elsewhere", "fake_db": database})
        child = subprocess.run(
            [sys.executable, "-c", code, logon],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout)[:2] == [f"{'PRJ-0001':<24}|EUR", f"{'PRJ-0002':<24}|EUR"]
    assert len(json.loads(child.stdout)) == 6
