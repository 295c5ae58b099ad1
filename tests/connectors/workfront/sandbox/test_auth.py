"""The sandbox's authentication: API keys, /login sessions, OAuth access tokens, expiry and
the 401 body Workfront sends."""

from __future__ import annotations

import httpx

from pmo_ledger.connectors.workfront.sandbox import WorkfrontSandbox
from tests.connectors.workfront.sandbox.conftest import client_for

NOT_LOGGED_IN = {
    "error": {
        "class": "com.attask.common.AuthenticationException",
        "message": "You are not currently logged in",
        "title": None,
    }
}


def _count(client: httpx.Client, **params: str) -> httpx.Response:
    return client.get("PROJ/count", params=params)


def test_api_key_header_reads(server: WorkfrontSandbox) -> None:
    """The `apiKey` header authenticates a search."""
    with client_for(server, apiKey=server.user.api_key) as client:
        assert _count(client).json() == {"data": {"count": 8}}


def test_api_key_parameter_reads(server: WorkfrontSandbox) -> None:
    """`apiKey` as a request parameter authenticates too (api-basics.md)."""
    with client_for(server) as client:
        assert _count(client, apiKey=server.user.api_key).json() == {"data": {"count": 8}}


def test_no_credentials_is_401_with_workfront_body(server: WorkfrontSandbox) -> None:
    """A call without credentials is a 401 with the AuthenticationException body."""
    with client_for(server) as client:
        reply = _count(client)
    assert (reply.status_code, reply.json()) == (401, NOT_LOGGED_IN)


def test_wrong_api_key_is_401(server: WorkfrontSandbox) -> None:
    """An unknown API key is refused like a missing one."""
    with client_for(server, apiKey="not-the-key") as client:
        reply = _count(client)
    assert (reply.status_code, reply.json()) == (401, NOT_LOGGED_IN)


def test_login_returns_a_session_id_that_reads(server: WorkfrontSandbox) -> None:
    """POST /login with username and password answers data.sessionID and data.userID; the
    `sessionID` header then authenticates."""
    with client_for(server) as client:
        login = client.post(
            "login", params={"username": server.user.username, "password": server.user.password}
        )
        data = login.json()["data"]
        assert data["userID"] == server.user.user_id
        assert len(data["sessionID"]) == 32
        reply = client.get("PROJ/count", headers={"sessionID": data["sessionID"]})
    assert reply.json() == {"data": {"count": 8}}
    assert server.calls["login"] == 1


def test_login_with_a_wrong_password_is_401(server: WorkfrontSandbox) -> None:
    """A wrong password is a 401 AuthenticationException naming the failure."""
    with client_for(server) as client:
        reply = client.post("login", params={"username": server.user.username, "password": "x"})
    assert reply.status_code == 401
    assert reply.json()["error"] == {
        "class": "com.attask.common.AuthenticationException",
        "message": "Invalid username or password",
        "title": None,
    }


def test_session_expires_after_its_ttl(server: WorkfrontSandbox) -> None:
    """A session unused for longer than `session_ttl` is refused with the documented 401; a
    new login works."""
    server.session_ttl = 0.0
    with client_for(server) as client:
        params = {"username": server.user.username, "password": server.user.password}
        session = client.post("login", params=params).json()["data"]["sessionID"]
        expired = client.get("PROJ/count", headers={"sessionID": session})
        assert (expired.status_code, expired.json()) == (401, NOT_LOGGED_IN)
        server.session_ttl = 60.0
        again = client.post("login", params=params).json()["data"]["sessionID"]
        assert client.get("PROJ/count", headers={"sessionID": again}).status_code == 200


def test_session_expires_mid_run(server: WorkfrontSandbox) -> None:
    """`expire_after(2)`: the session reads twice more, then is refused."""
    with client_for(server) as client:
        params = {"username": server.user.username, "password": server.user.password}
        session = client.post("login", params=params).json()["data"]["sessionID"]
        server.expire_after(2)
        statuses = [
            client.get("PROJ/count", headers={"sessionID": session}).status_code for _ in range(3)
        ]
    assert statuses == [200, 200, 401]


def test_oauth_access_token_is_a_session_id(server: WorkfrontSandbox) -> None:
    """An OAuth2 access token is sent as `sessionID` and reads; expiring sessions ends it."""
    token = server.issue_access_token()
    with client_for(server, sessionID=token) as client:
        assert _count(client).json() == {"data": {"count": 8}}
        server.expire_sessions()
        assert _count(client).status_code == 401


def test_session_id_parameter_reads(server: WorkfrontSandbox) -> None:
    """`sessionID` as a request parameter authenticates (api-basics.md)."""
    token = server.issue_access_token()
    with client_for(server) as client:
        assert _count(client, sessionID=token).json() == {"data": {"count": 8}}


def test_revoked_api_key_is_401(server: WorkfrontSandbox) -> None:
    """After `revoke_api_key` the key is refused with the documented body."""
    server.revoke_api_key()
    with client_for(server, apiKey=server.user.api_key) as client:
        reply = _count(client)
    assert (reply.status_code, reply.json()) == (401, NOT_LOGGED_IN)


def test_other_api_versions_are_served(server: WorkfrontSandbox) -> None:
    """/attask/api/v15.0/ answers like v19.0; an unknown version is a 404 error body."""
    with client_for(server, apiKey=server.user.api_key) as client:
        assert client.get(f"{server.url}/attask/api/v15.0/proj/count").json() == {
            "data": {"count": 8}
        }
        unknown = client.get(f"{server.url}/attask/api/v99.0/proj/count")
    assert unknown.status_code == 404
    assert "error" in unknown.json()


def test_secrets_are_masked_in_the_log(server: WorkfrontSandbox) -> None:
    """The request log keeps no password, session ID or API key."""
    with client_for(server) as client:
        client.post("login", params={"username": server.user.username, "password": "pw"})
        _count(client, apiKey=server.user.api_key)
    logged = [r.params for r in server.requests]
    assert logged[0]["password"] == ["***"]
    assert logged[1]["apiKey"] == ["***"]


def test_login_with_a_form_body(server: WorkfrontSandbox) -> None:
    """username and password in a form-encoded POST body log in too."""
    with client_for(server) as client:
        reply = client.post(
            "login", data={"username": server.user.username, "password": server.user.password}
        )
    assert reply.status_code == 200
    assert len(reply.json()["data"]["sessionID"]) == 32


def test_logout_ends_the_session(server: WorkfrontSandbox) -> None:
    """GET /logout with the session ends it: the next call is a 401."""
    with client_for(server) as client:
        params = {"username": server.user.username, "password": server.user.password}
        session = client.post("login", params=params).json()["data"]["sessionID"]
        assert client.get("logout", headers={"sessionID": session}).status_code == 200
        assert client.get("PROJ/count", headers={"sessionID": session}).status_code == 401
