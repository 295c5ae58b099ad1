"""The fake OData services' logon and failure switches over HTTPS: Basic, OAuth client
credentials, sap-client, CSRF on writes, 401/403/429/5xx."""

from __future__ import annotations

import httpx

from pmo_ledger.connectors.sap.sandbox.odata import SapODataSandbox
from pmo_ledger.connectors.sap.sandbox.seed import USER
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from tests.connectors.sap.sandbox.conftest import client_for

PROJECTS = "/sap/opu/odata/sap/API_ENTERPRISE_PROJECT_SRV/A_EnterpriseProject"
JSON = {"Accept": "application/json"}


def _token(
    server: SapODataSandbox,
    client_id: str = "COMM_USER",
    secret: str = "s3cret",  # noqa: S107 - the fixture client
) -> httpx.Response:
    with client_for(server) as client:
        return client.post(
            server.token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )


def test_basic_auth_wrong_password_and_unknown_client(server: SapODataSandbox) -> None:
    """A bad password or a client without the user: 401 with SAP's Basic realm."""
    with client_for(server, headers=JSON) as client:
        assert (
            client.get(
                PROJECTS, auth=(USER.user, USER.password), params={"sap-client": "100"}
            ).status_code
            == 200
        )
        wrong = client.get(PROJECTS, auth=(USER.user, "nope"))
        assert wrong.status_code == 401
        assert (
            wrong.headers["www-authenticate"]
            == 'Basic realm="SAP NetWeaver Application Server [PMO/100]"'
        )
        other = client.get(PROJECTS, auth=(USER.user, USER.password), params={"sap-client": "200"})
        assert other.status_code == 401
        assert client.get(PROJECTS).status_code == 401


def test_oauth_client_credentials(server: SapODataSandbox) -> None:
    """A token for the client's id and secret reads; a wrong secret gets none; a made-up
    token is refused."""
    answer = _token(server)
    assert answer.status_code == 200
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)
    with client_for(
        server, headers={**JSON, "Authorization": f"Bearer {body['access_token']}"}
    ) as client:
        rows = client.get(PROJECTS, params={"sap-client": "100"}).json()["d"]["results"]
        assert len(rows) == 6
    assert _token(server, secret="wrong").json()["error"] == "invalid_client"
    with client_for(server, headers={**JSON, "Authorization": "Bearer made-up"}) as client:
        assert client.get(PROJECTS).status_code == 401


def test_oauth_form_credentials_and_expiry(server: SapODataSandbox) -> None:
    """Client id and secret in the form work too; a token past its lifetime is a 401."""
    server.app.switches.token_ttl = 0
    with client_for(server) as client:
        token = client.post(
            server.token_url,
            data={
                "grant_type": "client_credentials",
                "client_id": "COMM_USER",
                "client_secret": "s3cret",
            },
        ).json()["access_token"]
        assert (
            client.get(PROJECTS, headers={**JSON, "Authorization": f"Bearer {token}"}).status_code
            == 401
        )
        refused = client.post(
            server.token_url, data={"grant_type": "password"}, auth=("COMM_USER", "s3cret")
        )
        assert refused.status_code == 400


def test_writes_need_a_csrf_token(odata: httpx.Client) -> None:
    """A POST without a token: 403 with x-csrf-token: Required."""
    answer = odata.post(PROJECTS, json={"Project": "PRJ-0099"})
    assert answer.status_code == 403
    assert answer.headers["x-csrf-token"] == "Required"
    assert answer.json()["error"]["message"]["value"] == "CSRF token validation failed"


def test_csrf_token_fetch_on_a_read(odata: httpx.Client) -> None:
    """A read with x-csrf-token: Fetch answers a token header (reads need none)."""
    answer = odata.get(PROJECTS, headers={"x-csrf-token": "Fetch"})
    assert answer.status_code == 200
    assert len(answer.headers["x-csrf-token"]) >= 20


def test_fault_switches(odata: httpx.Client, server: SapODataSandbox, system: SapSystem) -> None:
    """429 with Retry-After, 503, 500 and 403 answer the next requests in turn, with OData
    error bodies; then reads work again; every request is counted."""
    server.app.fail_next(1, 429, retry_after=2)
    server.app.fail_next(1, 503)
    server.app.fail_next(1, 500)
    server.app.fail_next(1, 403)
    before = system.http_calls
    throttled = odata.get(PROJECTS)
    assert (throttled.status_code, throttled.headers["retry-after"]) == (429, "2")
    assert [odata.get(PROJECTS).status_code for _ in range(3)] == [503, 500, 403]
    assert odata.get(PROJECTS).json()["d"]["results"]
    assert system.http_calls == before + 5


def test_refused_logon_switch_and_forced_401(
    odata: httpx.Client, server: SapODataSandbox, system: SapSystem
) -> None:
    """The system's logon_refused switch refuses Basic logons; a forced 401 answers once."""
    server.app.fail_next(1, 401)
    assert odata.get(PROJECTS).status_code == 401
    assert odata.get(PROJECTS).status_code == 200
    system.switches.logon_refused = True
    assert odata.get(PROJECTS).status_code == 401
