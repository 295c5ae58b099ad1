"""The dashboard's browser session: signed in once with the API token, then a cookie.

The cookie holds a random CSRF token and is signed (itsdangerous, HMAC) with a key derived from
`[service] api_token`, so it proves its holder gave the token; changing the token signs every
browser out. It is HttpOnly, SameSite=Strict, scoped to /ui, Secure over HTTPS, and expires
after SESSION_MAX_AGE. A form that writes carries the CSRF token, compared in constant time
with the cookie's. Without an `api_token` nobody signs in (reads are open, writes are off).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import SecretStr

COOKIE = "pmo_ledger_session"
#: Seconds a sign-in lasts.
SESSION_MAX_AGE = 12 * 3600
SALT = "pmo-ledger-ui-session"
PREFIX = "/ui"


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: its CSRF token."""

    csrf: str


class Sessions:
    """Issues and checks session cookies for one configured token."""

    def __init__(self, token: SecretStr | None) -> None:
        self.token = token.get_secret_value().encode() if token is not None else None
        self._signer = (
            URLSafeTimedSerializer(self.token, salt=SALT) if self.token is not None else None
        )

    @property
    def enabled(self) -> bool:
        return self._signer is not None

    def token_ok(self, given: str) -> bool:
        """Whether `given` is the API token (constant time)."""
        if self.token is None:
            return False
        return hmac.compare_digest(given.strip().encode(), self.token)

    def bearer_ok(self, authorization: str) -> bool:
        scheme, _, given = authorization.partition(" ")
        return scheme.lower() == "bearer" and self.token_ok(given)

    def issue(self) -> tuple[str, Session]:
        """A new session: the cookie's value and the session it stands for."""
        assert self._signer is not None
        session = Session(secrets.token_urlsafe(32))
        return self._signer.dumps({"csrf": session.csrf}), session

    def load(self, value: str | None) -> Session | None:
        """The session a cookie value stands for; None when absent, forged or expired."""
        if not value or self._signer is None:
            return None
        try:
            data = self._signer.loads(value, max_age=SESSION_MAX_AGE)
        except BadSignature:  # SignatureExpired is one
            return None
        csrf = data.get("csrf") if isinstance(data, dict) else None
        return Session(csrf) if isinstance(csrf, str) and csrf else None

    def from_cookie_header(self, header: bytes) -> Session | None:
        """The session in a raw `Cookie` header (the ASGI gate reads headers only)."""
        if not header:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(header.decode("latin-1"))
        except Exception:  # noqa: BLE001 (a malformed cookie header is no session)
            return None
        morsel = jar.get(COOKIE)
        return self.load(morsel.value if morsel is not None else None)

    @staticmethod
    def csrf_ok(session: Session | None, given: str | None) -> bool:
        if session is None or not given:
            return False
        return hmac.compare_digest(session.csrf.encode(), given.encode())
