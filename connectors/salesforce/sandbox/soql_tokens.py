"""SOQL tokens, and the errors SOQL reports with their Salesforce wording.

Salesforce words a malformed query as the query echoed on one line, a caret under the
offending column, `ERROR at Row:1:Column:N` and a reason (`unexpected token: 'FRM'`). The
errors here carry the REST errorCode (MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE) so the
server can answer with it.

Literals as SOQL defines them: 'strings' with backslash escapes (\\' \\" \\\\ \\n \\r \\t \\b
\\f, and \\% \\_ kept escaped for LIKE), numbers (optionally negative, with decimals), dates
`2025-01-31`, datetimes `2025-03-04T10:15:02Z` / `.000` fraction / `+01:00` offset (unquoted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class SoqlError(Exception):
    """A query Salesforce would refuse: `code` is the REST errorCode, `message` its text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def located(code: str, query: str, pos: int, reason: str) -> SoqlError:
    """An error pointing at column `pos` (0-based) of a one-line query, worded like Salesforce."""
    line = " ".join(query.split("\n"))
    return SoqlError(code, f"\n{line}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{reason}")


class Kind(StrEnum):
    IDENT = "identifier"
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    COMMA = ","
    EOF = "<EOF>"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    pos: int
    #: The decoded literal: str for STRING (LIKE escapes kept), date, aware datetime.
    value: object = None

    def is_word(self, *words: str) -> bool:
        """An identifier equal to one of `words`, ignoring case (SOQL keywords)."""
        return self.kind is Kind.IDENT and self.text.upper() in words


_DATETIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2})"
_PATTERNS = [
    (Kind.DATETIME, re.compile(_DATETIME)),
    (Kind.DATE, re.compile(r"\d{4}-\d{2}-\d{2}(?![\w.:])")),
    (Kind.NUMBER, re.compile(r"-?\d+(?:\.\d+)?(?![\w.])")),
    (Kind.IDENT, re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")),
    (Kind.OP, re.compile(r"<=|>=|!=|<>|=|<|>")),
    (Kind.LPAREN, re.compile(r"\(")),
    (Kind.RPAREN, re.compile(r"\)")),
    (Kind.COMMA, re.compile(r",")),
]
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'"}
_ESCAPES |= {k.upper(): v for k, v in _ESCAPES.items() if k.isalpha()}


def _string(query: str, start: int) -> tuple[str, int]:
    """Decode the string literal opening at `start`; returns (value, end). `\\\\`, `\\%` and
    `\\_` stay escaped: LIKE needs to tell them from wildcards, `unescape_like` resolves them."""
    out: list[str] = []
    i = start + 1
    while i < len(query):
        ch = query[i]
        if ch == "'":
            return "".join(out), i + 1
        if ch == "\\":
            nxt = query[i + 1 : i + 2]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in ("\\", "%", "_"):
                out.append("\\" + nxt)
            else:
                raise located("MALFORMED_QUERY", query, i, f"Invalid string literal: {nxt!r}")
            i += 2
            continue
        out.append(ch)
        i += 1
    raise located("MALFORMED_QUERY", query, start, "unterminated string literal")


def unescape_like(text: str) -> str:
    """A decoded string literal compared with `=`: its kept escapes resolved."""
    return re.sub(r"\\([\\%_])", r"\1", text)


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def tokenize(query: str) -> list[Token]:
    """The tokens of a query, ending with an EOF token. Raises SoqlError (MALFORMED_QUERY)."""
    tokens: list[Token] = []
    i = 0
    while i < len(query):
        if query[i].isspace():
            i += 1
            continue
        if query[i] == "'":
            value, end = _string(query, i)
            tokens.append(Token(Kind.STRING, query[i:end], i, value))
            i = end
            continue
        for kind, pattern in _PATTERNS:
            match = pattern.match(query, i)
            if match:
                text = match.group()
                tokens.append(Token(kind, text, i, _literal(kind, text, query, i)))
                i = match.end()
                break
        else:
            bad = query[i:].split()[0]
            raise located("MALFORMED_QUERY", query, i, f"unexpected token: '{bad}'")
    tokens.append(Token(Kind.EOF, "<EOF>", len(query)))
    return tokens


def _literal(kind: Kind, text: str, query: str, pos: int) -> object:
    try:
        if kind is Kind.DATE:
            return date.fromisoformat(text)
        if kind is Kind.DATETIME:
            return _datetime(text)
    except ValueError:
        raise located("MALFORMED_QUERY", query, pos, f"invalid date: {text}") from None
    return None
