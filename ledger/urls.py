"""Ledger database URLs as operators write them: split whatever their form, masked for display.

SQLAlchemy's own parser takes the password up to the first `@`, so `postgresql://u:p@ss@host/db`
(a password with an unencoded `@`) becomes password `p` on host `ss@host`, and its
`render_as_string(hide_password=True)` leaves query parameters (`?password=...`) in clear. Here:

- the userinfo ends at the last `@` before the path (`u:p@ss`, `u:a/b` in `u:a/b@host/db`);
- `mask_url` shows a URL with the userinfo's password and every secret-looking query parameter
  (password, pwd, passwd, token, secret, api_key, ...) as `***`; a URL without either, and any
  SQLite path, comes back unchanged;
- `url_secrets` lists the strings that must not appear in text shown to anyone (an error's
  message), as written and percent-decoded;
- `engine_url` percent-encodes a raw `@` in the userinfo, so the engine connects where the
  operator meant, with the password they wrote.

Every place that shows a ledger URL shows `mask_url` of it (the CLI's messages, logs, errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

MASK = "***"
#: Query parameters that hold a credential, by name.
SECRET_PARAM = re.compile(r"pass|pwd|secret|token|key|auth|credential|session", re.IGNORECASE)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)


@dataclass(frozen=True)
class _Parts:
    """`scheme://[user[:password]@]location[?query]`, each part as written."""

    scheme: str
    user: str | None
    password: str | None
    location: str
    query: str | None

    def join(self, user: str | None, password: str | None, query: str | None) -> str:
        userinfo = "" if user is None else user + ("" if password is None else f":{password}")
        at = "@" if user is not None else ""
        tail = "" if query is None else f"?{query}"
        return f"{self.scheme}://{userinfo}{at}{self.location}{tail}"


def _split(url: str) -> _Parts | None:
    match = _SCHEME.match(url)
    if match is None:
        return None
    scheme, rest = match[1], match[2]
    head, question, query = rest.partition("?")
    user = password = None
    first_at = head.find("@")
    # No authority (sqlite:///path, sqlite://): the path is never userinfo, whatever it holds.
    if first_at >= 0 and not head.startswith("/"):
        slash = head.find("/", first_at)
        authority = head if slash < 0 else head[:slash]
        at = authority.rfind("@")
        userinfo, head = head[:at], head[at + 1 :]
        user, colon, written = userinfo.partition(":")
        password = written if colon else None
    return _Parts(scheme, user, password, head, query if question else None)


def _secret_params(query: str) -> list[tuple[str, str]]:
    """(name, value as written) of the query's secret-looking parameters."""
    found = []
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if value and SECRET_PARAM.search(unquote(name)):
            found.append((name, value))
    return found


def mask_url(url: str) -> str:
    """`url` with its password and secret query parameters shown as `***` (module docstring)."""
    parts = _split(url)
    if parts is None:
        return url
    password = MASK if parts.password else parts.password
    query = parts.query
    if query:
        secret = {name for name, _ in _secret_params(query)}
        query = "&".join(
            f"{pair.partition('=')[0]}={MASK}" if pair.partition("=")[0] in secret else pair
            for pair in query.split("&")
        )
    return parts.join(parts.user, password, query)


def url_secrets(url: str) -> list[str]:
    """The secrets of `url` as they may appear in text, longest first: the password and the
    secret parameters' values, as written, percent-decoded and percent-encoded (as the engine's
    URL renders them)."""
    parts = _split(url)
    if parts is None:
        return []
    written = [parts.password or ""] + [value for _, value in _secret_params(parts.query or "")]
    found = set(written) | {unquote(w) for w in written}
    found |= {quote(unquote(w), safe="") for w in written}
    return sorted((s for s in found if s), key=lambda s: (-len(s), s))


def scrub(text: str, url: str) -> str:
    """`text` with every secret of `url` replaced by `***`."""
    for secret in url_secrets(url):
        text = text.replace(secret, MASK)
    return text


def engine_url(url: str) -> str:
    """`url` as SQLAlchemy must be given it: a raw `@` in the userinfo percent-encoded."""
    parts = _split(url)
    if parts is None or parts.user is None:
        return url
    user = parts.user.replace("@", "%40")
    password = None if parts.password is None else parts.password.replace("@", "%40")
    if (user, password) == (parts.user, parts.password):
        return url
    return parts.join(user, password, parts.query)
