"""Logging in to the sandbox with the real simple-salesforce client: SOAP, the OAuth grants,
TLS trust through the CA file, and what an expired session looks like on the wire."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession
from simple_salesforce.login import SalesforceLogin, token_login

from pmo_ledger.connectors.salesforce.sandbox import (
    SANDBOX_APP,
    ConnectedApp,
    SandboxServer,
    TlsFiles,
    load_or_create,
)
from tests.connectors.salesforce.sandbox_support import http, login, small_org, soap_login

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture
def server(tls: TlsFiles, rsa_key: rsa.RSAPrivateKey) -> Iterator[SandboxServer]:
    app = ConnectedApp(SANDBOX_APP.consumer_key, SANDBOX_APP.consumer_secret, _pem(rsa_key))
    with SandboxServer(small_org()[0], app=app, tls=tls) as running:
        yield running


def _token(
    server: SandboxServer, data: dict[str, str], headers: dict[str, str] | None = None
) -> tuple[str, str]:
    result: tuple[str, str] = token_login(
        f"{server.login_url}/services/oauth2/token",
        data,
        "test",
        server.app.consumer_key,
        headers,
        None,
        http(server),
    )
    return result


def _works(server: SandboxServer, token: str, instance: str) -> int:
    sf = Salesforce(session_id=token, instance=instance, session=http(server))
    count: int = sf.query("SELECT COUNT() FROM pse__Proj__c")["totalSize"]
    return count


def test_soap_login_gives_a_session_on_the_sandbox(server: SandboxServer) -> None:
    """SalesforceLogin returns a session id and the sandbox's host:port as instance."""
    session_id, instance = soap_login(server, http(server))
    assert instance == f"127.0.0.1:{server.port}"
    assert session_id.startswith(server.org.org_id[:15] + "!")
    assert _works(server, session_id, instance) == 3
    login_call = server.requests[0]
    assert (login_call.method, login_call.path, login_call.headers["soapaction"]) == (
        "POST",
        "/services/Soap/u/59.0",
        "login",
    )


def test_wrong_password_is_invalid_login(server: SandboxServer) -> None:
    """A bad password is a 500 SOAP fault that simple-salesforce reads as INVALID_LOGIN."""
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        SalesforceLogin(
            username=server.user.username,
            password="wrong",
            security_token=server.user.security_token,
            scratch_url=server.login_url,
            session=http(server),
        )
    assert caught.value.code == "INVALID_LOGIN"
    assert caught.value.auth_message == (
        "Invalid username, password, security token; or user locked out."
    )
    assert server.requests[-1].status == 500


def test_oauth_password_grant(server: SandboxServer) -> None:
    """The password grant takes the consumer key/secret and password + token."""
    user = server.user
    data = {
        "grant_type": "password",
        "client_id": server.app.consumer_key,
        "client_secret": server.app.consumer_secret,
        "username": user.username,
        "password": user.password + user.security_token,
    }
    token, instance = _token(server, data)
    assert _works(server, token, instance) == 3
    with pytest.raises(SalesforceAuthenticationFailed) as bad_password:
        _token(server, data | {"password": user.password})
    with pytest.raises(SalesforceAuthenticationFailed) as bad_secret:
        _token(server, data | {"client_secret": "nope"})
    assert (bad_password.value.code, bad_password.value.auth_message) == (
        "invalid_grant",
        "authentication failure",
    )
    assert (bad_secret.value.code, bad_secret.value.auth_message) == (
        "invalid_client",
        "invalid client credentials",
    )


def test_oauth_client_credentials_with_basic_auth(server: SandboxServer) -> None:
    """client_credentials authenticates the app with HTTP Basic, as simple-salesforce sends it."""
    basic = base64.b64encode(
        f"{server.app.consumer_key}:{server.app.consumer_secret}".encode()
    ).decode()
    token, instance = _token(
        server, {"grant_type": "client_credentials"}, {"Authorization": f"Basic {basic}"}
    )
    assert instance == f"127.0.0.1:{server.port}"
    assert _works(server, token, instance) == 3


def _assertion(server: SandboxServer, key: rsa.RSAPrivateKey, **claims: object) -> str:
    payload = {
        "iss": server.app.consumer_key,
        "sub": server.user.username,
        "aud": server.login_url,
        "exp": f"{time.time() + 180:.0f}",  # a string, as simple-salesforce sends it
    } | claims
    return jwt.encode(payload, key, algorithm="RS256")


def test_jwt_bearer_grant(server: SandboxServer, rsa_key: rsa.RSAPrivateKey) -> None:
    """An RS256 assertion signed with the app's key and aud = the login URL is accepted."""
    token, instance = _token(
        server, {"grant_type": JWT_BEARER, "assertion": _assertion(server, rsa_key)}
    )
    assert _works(server, token, instance) == 3


@pytest.mark.parametrize(
    ("claims", "other_key", "description"),
    [
        ({"aud": "https://login.salesforce.com"}, False, "audience is invalid"),
        ({"exp": f"{time.time() - 60:.0f}"}, False, "expired authorization code"),
        ({}, True, "invalid assertion"),
        ({"sub": "someone@else.example"}, False, "authentication failure"),
    ],
)
def test_jwt_bearer_refusals(
    server: SandboxServer,
    rsa_key: rsa.RSAPrivateKey,
    claims: dict[str, object],
    other_key: bool,
    description: str,
) -> None:
    """Wrong audience, expired, wrong key or user: 400 invalid_grant with Salesforce's words."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048) if other_key else rsa_key
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        _token(server, {"grant_type": JWT_BEARER, "assertion": _assertion(server, key, **claims)})
    assert (caught.value.code, caught.value.auth_message) == ("invalid_grant", description)


def test_tls_is_verified_with_the_ca_file(server: SandboxServer) -> None:
    """The CA file verifies the sandbox; a client without it refuses the certificate."""
    trusting = http(server)
    assert trusting.get(f"{server.url}/services/data/").json()[0]["version"] == "59.0"
    default = requests.Session()
    default.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        default.get(f"{server.url}/services/data/")


def test_expired_session_is_a_401_json_list(server: SandboxServer) -> None:
    """After expire_sessions a direct session gets INVALID_SESSION_ID as a JSON list."""
    sf = login(server)
    server.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM pse__Proj__c")
    assert caught.value.status == 401
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_session_dying_mid_run_is_renewed_by_the_client(server: SandboxServer) -> None:
    """With a login partial, simple-salesforce reads the 401 list, logs in again and goes on."""
    sf = login(server)
    session = sf.session
    sf._salesforce_login_partial = partial(
        SalesforceLogin,
        username=server.user.username,
        password=server.user.password,
        security_token=server.user.security_token,
        scratch_url=server.login_url,
        session=session,
    )
    server.page_size = 1
    server.expire_after(1)
    records = list(sf.query_all_iter("SELECT Name FROM pse__Proj__c ORDER BY Name"))
    assert [r["Name"] for r in records] == ["Alpha", "Beta", "Gamma"]
    calls = [(r.path.split("/")[2], r.status) for r in server.requests]
    assert calls == [
        ("Soap", 200),
        ("data", 200),
        ("data", 401),
        ("Soap", 200),
        ("data", 200),
        ("data", 200),
    ]


def test_cert_dir_keeps_its_certificate(tmp_path: Path) -> None:
    """A cert_dir's files are made once and reused, so a configured CA stays valid."""
    first = load_or_create(tmp_path)
    pem = first.ca_file.read_bytes()
    second = load_or_create(tmp_path)
    assert second.ca_file.read_bytes() == pem
    assert pem.startswith(b"-----BEGIN CERTIFICATE-----")
