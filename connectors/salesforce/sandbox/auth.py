"""Logging in to the sandbox: the SOAP partner login and the OAuth token endpoint (password,
client credentials and JWT bearer grants), and the access tokens they hand out.

What a client sees is what Salesforce answers:
- SOAP `login` (body as simple-salesforce's SalesforceLogin sends it; the password element is
  password + security token). Success: 200 with sessionId, serverUrl, metadataServerUrl,
  userId, passwordExpired, sandbox. Failure: 500 SOAP fault, `sf:exceptionCode` INVALID_LOGIN.
- OAuth `token`. Success: access_token, instance_url, id, token_type Bearer, issued_at (epoch
  ms, wall clock), signature (base64 HMAC-SHA256 of id + issued_at keyed by the consumer
  secret, as Salesforce computes it). Failure: 400 `{"error", "error_description"}`.
- JWT bearer: RS256, verified with the connected app's public key (or certificate); `iss` is
  the consumer key, `sub` the username, `exp` in the future (wall clock), and `aud` must be the
  sandbox's login URL (`https://127.0.0.1:PORT`), where Salesforce wants its own login host.

Tokens look like Salesforce session ids (`<org id 15>!<random>`). `expire_all` and
`expire_after` end them, so a client's 401 handling can be tested.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509

from pmo_ledger.connectors.salesforce.sandbox.replies import Reply, json_reply

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@dataclass(frozen=True, slots=True)
class SandboxUser:
    """The org's API user. Logins send `password + security_token`."""

    username: str
    password: str
    security_token: str
    email: str = "pmo.integration@example.com"


@dataclass(frozen=True, slots=True)
class ConnectedApp:
    """The connected app of the OAuth flows; `public_key_pem` (a public key or a certificate,
    PEM) verifies JWT bearer assertions, None refuses them."""

    consumer_key: str
    consumer_secret: str
    public_key_pem: str | None = None


#: The sandbox's API user and connected app (a fake org: these are not secrets).
SANDBOX_USER = SandboxUser(
    username="integration@pmo-ledger.sandbox",
    password="SandboxPass2025",  # noqa: S106 - the fake org's published demo login
    security_token="SBXtoken0123456789AB",  # noqa: S106
)
SANDBOX_APP = ConnectedApp(
    consumer_key="3MVG9PmoLedgerSandbox.ConnectedApp.ConsumerKey.0000000000000000000000000000001",
    consumer_secret="SandboxConsumerSecret0123456789",  # noqa: S106
)


class Sessions:
    """The access tokens in force. Thread-safe."""

    def __init__(self, org_id: str) -> None:
        self._prefix = org_id[:15]
        self._tokens: set[str] = set()
        self._countdown: int | None = None
        self._lock = threading.Lock()

    def issue(self) -> str:
        """A new access token."""
        token = f"{self._prefix}!AQ{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens.add(token)
        return token

    def check(self, token: str) -> bool:
        """Whether a call with this token is let in (a call counts down `expire_after`)."""
        with self._lock:
            if token not in self._tokens:
                return False
            if self._countdown is not None:
                if self._countdown == 0:
                    self._tokens.clear()
                    self._countdown = None
                    return False
                self._countdown -= 1
            return True

    def expire_all(self) -> None:
        """Every token in force becomes invalid (new logins work)."""
        with self._lock:
            self._tokens.clear()
            self._countdown = None

    def expire_after(self, calls: int) -> None:
        """The tokens in force die after `calls` more authenticated calls."""
        if calls < 0:
            raise ValueError("calls >= 0")
        with self._lock:
            self._countdown = calls


class Authenticator:
    """Answers the login endpoints for one user and one connected app."""

    def __init__(
        self,
        user: SandboxUser,
        app: ConnectedApp,
        sessions: Sessions,
        *,
        org_id: str,
        user_id: str,
        currency: str,
    ) -> None:
        self.user = user
        self.app = app
        self.sessions = sessions
        self._org_id = org_id
        self._user_id = user_id
        self._currency = currency

    # --- SOAP ----------------------------------------------------------------------------
    def soap_login(self, body: str, base_url: str, version: str) -> Reply:
        """`POST /services/Soap/u/{version}`."""
        username = _element(body, "username")
        password = _element(body, "password")
        expected = self.user.password + self.user.security_token
        if username != self.user.username or not _same(password or "", expected):
            return _soap_fault(
                "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
            )
        org15 = self._org_id[:15]
        fields = {
            "metadataServerUrl": f"{base_url}/services/Soap/m/{version}/{org15}",
            "passwordExpired": "false",
            "sandbox": "true",
            "serverUrl": f"{base_url}/services/Soap/u/{version}/{org15}",
            "sessionId": self.sessions.issue(),
            "userId": self._user_id,
        }
        info = {
            "currencySymbol": "$",
            "orgDefaultCurrencyIsoCode": self._currency,
            "organizationId": self._org_id,
            "organizationMultiCurrency": "true",
            "organizationName": "PMO Ledger Sandbox",
            "userEmail": self.user.email,
            "userFullName": "PMO Integration",
            "userId": self._user_id,
            "userName": self.user.username,
        }
        result = _xml(fields) + "<userInfo>" + _xml(info) + "</userInfo>"
        envelope = (
            '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns="urn:partner.soap.sforce.com" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<soapenv:Body><loginResponse><result>{result}</result></loginResponse>"
            "</soapenv:Body></soapenv:Envelope>"
        )
        return Reply(200, "text/xml;charset=UTF-8", envelope)

    # --- OAuth ---------------------------------------------------------------------------
    def oauth_token(self, form: dict[str, str], authorization: str | None, base_url: str) -> Reply:
        """`POST /services/oauth2/token` (form-encoded)."""
        grant = form.get("grant_type", "")
        if grant == "password":
            failure = self._password_grant(form)
        elif grant == "client_credentials":
            failure = self._client_credentials(form, authorization)
        elif grant == JWT_GRANT:
            failure = self._jwt_bearer(form.get("assertion", ""), base_url)
        else:
            failure = ("unsupported_grant_type", "grant type not supported")
        if failure is not None:
            error, description = failure
            return json_reply(400, {"error": error, "error_description": description})
        issued_at = str(int(time.time() * 1000))
        identity = f"{base_url}/id/{self._org_id}/{self._user_id}"
        digest = hmac.new(
            self.app.consumer_secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
        return json_reply(
            200,
            {
                "access_token": self.sessions.issue(),
                "instance_url": base_url,
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued_at,
                "signature": base64.b64encode(digest).decode(),
                "scope": "api",
            },
        )

    def _client(self, client_id: str, client_secret: str) -> tuple[str, str] | None:
        if client_id != self.app.consumer_key:
            return ("invalid_client_id", "client identifier invalid")
        if not _same(client_secret, self.app.consumer_secret):
            return ("invalid_client", "invalid client credentials")
        return None

    def _password_grant(self, form: dict[str, str]) -> tuple[str, str] | None:
        failure = self._client(form.get("client_id", ""), form.get("client_secret", ""))
        if failure is not None:
            return failure
        expected = self.user.password + self.user.security_token
        if form.get("username") != self.user.username or not _same(
            form.get("password", ""), expected
        ):
            return ("invalid_grant", "authentication failure")
        return None

    def _client_credentials(
        self, form: dict[str, str], authorization: str | None
    ) -> tuple[str, str] | None:
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization and authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:], validate=True).decode()
            except ValueError:
                return ("invalid_client", "invalid client credentials")
            client_id, _, client_secret = decoded.partition(":")
        return self._client(client_id, client_secret)

    def _jwt_bearer(self, assertion: str, base_url: str) -> tuple[str, str] | None:
        try:
            claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return ("invalid_grant", "invalid assertion")
        if claims.get("iss") != self.app.consumer_key:
            return ("invalid_client_id", "client identifier invalid")
        if self.app.public_key_pem is None:
            return ("invalid_grant", "invalid assertion")
        try:
            claims = jwt.decode(
                assertion,
                _public_key(self.app.public_key_pem),
                algorithms=["RS256"],
                audience=base_url,
                options={"require": ["iss", "sub", "aud", "exp"]},
            )
        except jwt.InvalidAudienceError:
            return ("invalid_grant", "audience is invalid")
        except jwt.ExpiredSignatureError:
            return ("invalid_grant", "expired authorization code")
        except jwt.InvalidTokenError:
            return ("invalid_grant", "invalid assertion")
        if claims.get("sub") != self.user.username:
            return ("invalid_grant", "authentication failure")
        return None


def _public_key(pem: str) -> Any:
    """The key to verify with: the PEM itself, or the public key of a certificate."""
    if "BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem.encode()).public_key()
    return pem


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _element(body: str, name: str) -> str | None:
    """The text of the first `<prefix:name>` element, XML entities resolved. A regular
    expression, not an XML parser: the body is one known shape, and no entity expansion."""
    match = re.search(rf"<(?:\w+:)?{name}>(.*?)</(?:\w+:)?{name}>", body, re.DOTALL)
    return html.unescape(match.group(1)) if match else None


def _xml(fields: dict[str, str]) -> str:
    return "".join(f"<{k}>{html.escape(v, quote=False)}</{k}>" for k, v in fields.items())


def _soap_fault(code: str, message: str) -> Reply:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
        'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:sf="urn:fault.partner.soap.sforce.com" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {html.escape(message)}"
        '</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{html.escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
    return Reply(500, "text/xml;charset=UTF-8", body)
