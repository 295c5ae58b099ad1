"""OData V2 `$filter` expressions (OData V2 URI conventions, section 4.5 "Filter System Query
Option", odata.org/documentation/odata-version-2-0/uri-conventions), parsed and evaluated on
entities held as Python values.

Served: `eq ne gt ge lt le`, `and or not`, parentheses, the functions `substringof('x',P)`,
`startswith(P,'x')`, `endswith(P,'x')`, `tolower(P)`, `toupper(P)`; literals `'text'` (`''`
for a quote), `datetime'2025-01-01T00:00:00'`, `datetimeoffset'...Z'`, `guid'...'`, integers,
decimals (`12.50M` or `12.50`), `true`/`false`, `null`. A property that the entity type does
not have is an error, as SAP answers it (400).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Entity = Mapping[str, Any]
Expression = Callable[[Entity], Any]

_TOKEN = re.compile(
    r"\s*(?:(?P<typed>(?:datetimeoffset|datetime|guid|time)'(?:[^']|'')*')"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<number>-?\d+(?:\.\d+)?[MmDdLlFf]?)"
    r"|(?P<punct>[(),])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_/.]*))"
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a is not None and b is not None and a > b,
    "ge": lambda a, b: a is not None and b is not None and a >= b,
    "lt": lambda a, b: a is not None and b is not None and a < b,
    "le": lambda a, b: a is not None and b is not None and a <= b,
}
_FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "substringof": (2, lambda needle, hay: needle is not None and needle in (hay or "")),
    "startswith": (2, lambda hay, prefix: (hay or "").startswith(prefix or "")),
    "endswith": (2, lambda hay, suffix: (hay or "").endswith(suffix or "")),
    "tolower": (1, lambda text: (text or "").lower()),
    "toupper": (1, lambda text: (text or "").upper()),
}


class FilterError(ValueError):
    """The expression is not valid for the entity type (HTTP 400)."""


def parse_filter(text: str, properties: Mapping[str, str]) -> Callable[[Entity], bool]:
    """A predicate from `$filter` text; `properties` maps the entity type's property names
    to their EDM types. Raises FilterError."""
    tokens = _tokenize(text)
    parser = _Parser(tokens, properties)
    expression = parser.disjunction()
    if parser.pos != len(tokens):
        raise FilterError(f"Invalid token '{tokens[parser.pos][1]}' in $filter")
    return lambda entity: bool(expression(entity))


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise FilterError(f"Invalid $filter near '{text[pos : pos + 20]}'")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _typed_literal(token: str) -> Any:
    prefix, _, rest = token.partition("'")
    value = rest[:-1].replace("''", "'")
    if prefix == "datetime":
        try:
            return datetime.fromisoformat(value).replace(tzinfo=None)
        except ValueError as exc:
            raise FilterError(f"Invalid datetime literal '{value}'") from exc
    if prefix == "datetimeoffset":
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        except ValueError as exc:
            raise FilterError(f"Invalid datetimeoffset literal '{value}'") from exc
    return value.lower() if prefix == "guid" else value


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], properties: Mapping[str, str]) -> None:
        self.tokens = tokens
        self.properties = properties
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _word(self, *words: str) -> str | None:
        token = self._peek()
        if token and token[0] == "word" and token[1] in words:
            self.pos += 1
            return token[1]
        return None

    def _punct(self, char: str) -> None:
        token = self._peek()
        if token != ("punct", char):
            raise FilterError(f"Expected '{char}' in $filter")
        self.pos += 1

    def disjunction(self) -> Expression:
        terms = [self._conjunction()]
        while self._word("or"):
            terms.append(self._conjunction())
        if len(terms) == 1:
            return terms[0]
        return lambda e: any(term(e) for term in terms)

    def _conjunction(self) -> Expression:
        factors = [self._negation()]
        while self._word("and"):
            factors.append(self._negation())
        if len(factors) == 1:
            return factors[0]
        return lambda e: all(factor(e) for factor in factors)

    def _negation(self) -> Expression:
        if self._word("not"):
            inner = self._negation()
            return lambda e: not inner(e)
        return self._comparison()

    def _comparison(self) -> Expression:
        left = self._operand()
        operator = self._word(*_COMPARE)
        if operator is None:
            return left
        right = self._operand()
        compare = _COMPARE[operator]
        return lambda e: compare(left(e), right(e))

    def _operand(self) -> Expression:
        token = self._peek()
        if token is None:
            raise FilterError("Unexpected end of $filter")
        kind, text = token
        self.pos += 1
        if kind == "punct" and text == "(":
            inner = self.disjunction()
            self._punct(")")
            return inner
        if kind == "typed":
            value = _typed_literal(text)
            return lambda _e: value
        if kind == "string":
            value = text[1:-1].replace("''", "'")
            return lambda _e: value
        if kind == "number":
            number = _number(text)
            return lambda _e: number
        if kind == "word":
            return self._word_operand(text)
        raise FilterError(f"Invalid token '{text}' in $filter")

    def _word_operand(self, text: str) -> Expression:
        if text in ("true", "false"):
            flag = text == "true"
            return lambda _e: flag
        if text == "null":
            return lambda _e: None
        if text in _FUNCTIONS:
            arity, function = _FUNCTIONS[text]
            self._punct("(")
            args = [self.disjunction()]
            for _ in range(arity - 1):
                self._punct(",")
                args.append(self.disjunction())
            self._punct(")")
            return lambda e: function(*(arg(e) for arg in args))
        if text not in self.properties:
            raise FilterError(f"Property '{text}' not found")
        return lambda e: e.get(text)


def _number(text: str) -> Decimal:
    try:
        return Decimal(text.rstrip("MmDdLlFf"))
    except InvalidOperation as exc:
        raise FilterError(f"Invalid number '{text}'") from exc
