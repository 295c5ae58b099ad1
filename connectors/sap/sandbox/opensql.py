"""The WHERE clause of RFC_READ_TABLE's dynamic SELECT: ABAP Open SQL conditions, parsed from
the OPTIONS lines and evaluated on rows held as text.

RFC_READ_TABLE runs `SELECT ... FROM (query_table) WHERE (options)`: ABAP reads the lines of
the table one after the other, and a line end separates tokens, so a literal or a keyword cut
in two by a line break is an invalid condition (OPTION_NOT_VALID), as on SAP. Tokens are
separated by blanks; parentheses stand alone (`( A = 'X' )`); a comma may end a literal in an
IN list. Supported, as ABAP's documentation lists them (help.sap.com, "ABAP Keyword
Documentation, SELECT - WHERE, sql_cond"): `= <> < > <= >= EQ NE LT GT LE GE`, `[NOT] LIKE`
with `%` and `_`, `[NOT] IN ( ... )`, `[NOT] BETWEEN a AND b`, `IS [NOT] NULL`, `AND`, `OR`,
`NOT`, parentheses; literals in single quotes with `''` for a quote, or integers (`-100`; a
decimal number must be quoted, '12.50', as ABAP has no unquoted decimal literal).
Keywords and field names are case-insensitive, literals are not.

A literal is converted to the column's type before it is compared, as Open SQL does: to a
NUMC column with leading zeros (`PSPHI = '1'` finds `00000001`), to a packed column as a
number, and a CHAR column compares without its trailing blanks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from pmo_ledger.connectors.sap.sandbox.tables import Field, Table

Row = Mapping[str, str]
Predicate = Callable[[Row], bool]

_COMPARE = {
    "=": "=",
    "EQ": "=",
    "<>": "<>",
    "NE": "<>",
    "<": "<",
    "LT": "<",
    ">": ">",
    "GT": ">",
    "<=": "<=",
    "LE": "<=",
    ">=": ">=",
    "GE": ">=",
    # obsolete forms ABAP still accepts
    "><": "<>",
    "=<": "<=",
    "=>": ">=",
}


class InvalidCondition(ValueError):
    """The OPTIONS do not form a valid condition on this table (RFC_READ_TABLE raises
    OPTION_NOT_VALID)."""


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    literal: bool = False


def tokenize(lines: Sequence[str]) -> list[_Token]:
    """The tokens of the condition, line by line (a line end ends a token)."""
    tokens: list[_Token] = []
    for line in lines:
        tokens.extend(_tokenize_line(line))
    return tokens


def _tokenize_line(line: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(line):
        char = line[i]
        if char.isspace():
            i += 1
            continue
        if char == "'":
            value, i = _read_literal(line, i)
            tokens.append(_Token(value, literal=True))
            if i < len(line) and line[i] == ",":
                tokens.append(_Token(","))
                i += 1
            if i < len(line) and not line[i].isspace():
                raise InvalidCondition(f"no blank after the literal '{value}'")
            continue
        end = i
        while end < len(line) and not line[end].isspace():
            end += 1
        word = line[i:end]
        if "'" in word:
            raise InvalidCondition(f"a quote inside the token {word!r}")
        if word.endswith(",") and len(word) > 1:
            tokens.extend((_Token(word[:-1]), _Token(",")))
        else:
            tokens.append(_Token(word))
        i = end
    return tokens


def _read_literal(line: str, start: int) -> tuple[str, int]:
    chars: list[str] = []
    i = start + 1
    while i < len(line):
        if line[i] == "'":
            if i + 1 < len(line) and line[i + 1] == "'":
                chars.append("'")
                i += 2
                continue
            return "".join(chars), i + 1
        chars.append(line[i])
        i += 1
    raise InvalidCondition(f"the literal {line[start:]!r} does not end on its line")


def parse(lines: Sequence[str], table: Table) -> Predicate:
    """A predicate over `table`'s rows from the OPTIONS lines (no lines: every row).

    Raises InvalidCondition when the lines are not a valid condition on the table."""
    tokens = tokenize(lines)
    if not tokens:
        return lambda _row: True
    parser = _Parser(tokens, table)
    predicate = parser.condition()
    if parser.pos != len(tokens):
        raise InvalidCondition(f"unexpected {tokens[parser.pos].text!r}")
    return predicate


class _Parser:
    def __init__(self, tokens: list[_Token], table: Table) -> None:
        self.tokens = tokens
        self.table = table
        self.pos = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _keyword(self, *words: str) -> str | None:
        token = self._peek()
        if token is not None and not token.literal and token.text.upper() in words:
            self.pos += 1
            return token.text.upper()
        return None

    def _expect(self, word: str) -> None:
        if self._keyword(word) is None:
            found = self._peek()
            raise InvalidCondition(f"expected {word}, found {found.text if found else 'end'}")

    def condition(self) -> Predicate:
        terms = [self._term()]
        while self._keyword("OR"):
            terms.append(self._term())
        if len(terms) == 1:
            return terms[0]
        return lambda row: any(term(row) for term in terms)

    def _term(self) -> Predicate:
        factors = [self._factor()]
        while self._keyword("AND"):
            factors.append(self._factor())
        if len(factors) == 1:
            return factors[0]
        return lambda row: all(factor(row) for factor in factors)

    def _factor(self) -> Predicate:
        if self._keyword("NOT"):
            inner = self._factor()
            return lambda row: not inner(row)
        if self._keyword("("):
            inner = self.condition()
            self._expect(")")
            return inner
        return self._predicate()

    def _predicate(self) -> Predicate:
        token = self._peek()
        if token is None or token.literal:
            raise InvalidCondition("expected a field name")
        field = self.table.field(token.text.upper())
        if field is None:
            raise InvalidCondition(f"{token.text} is not a field of {self.table.name}")
        self.pos += 1
        name = field.name
        if self._keyword("IS"):
            negate = self._keyword("NOT") is not None
            self._expect("NULL")
            return lambda _row: negate  # ABAP tables hold initial values, never NULL
        negate = self._keyword("NOT") is not None
        if self._keyword("LIKE"):
            pattern = _like_regex(self._literal())
            return lambda row: negate != bool(pattern.fullmatch(row[name].rstrip()))
        if self._keyword("IN"):
            self._expect("(")
            values = [_convert(field, self._literal())]
            while self._keyword(","):
                values.append(_convert(field, self._literal()))
            self._expect(")")
            return lambda row: negate != (_value(field, row[name]) in values)
        if self._keyword("BETWEEN"):
            low = _convert(field, self._literal())
            self._expect("AND")
            high = _convert(field, self._literal())
            return lambda row: (
                negate
                != (
                    _COMPARISONS["<="](low, _value(field, row[name]))
                    and _COMPARISONS["<="](_value(field, row[name]), high)
                )
            )
        if negate:
            raise InvalidCondition("NOT must precede LIKE, IN or BETWEEN here")
        operator = self._peek()
        if operator is None or operator.literal or operator.text.upper() not in _COMPARE:
            raise InvalidCondition(f"expected a comparison after {name}")
        self.pos += 1
        compare = _COMPARISONS[_COMPARE[operator.text.upper()]]
        right = _convert(field, self._literal())
        return lambda row: compare(_value(field, row[name]), right)

    def _literal(self) -> str:
        token = self._peek()
        if token is None:
            raise InvalidCondition("expected a value, found the end")
        if token.literal:
            self.pos += 1
            return token.text
        if token.text.removeprefix("-").isdigit():  # numeric literals: integers only
            self.pos += 1
            return token.text
        raise InvalidCondition(f"expected a value, found {token.text!r}")


_COMPARISONS: dict[str, Callable[[object, object], bool]] = {
    "=": lambda a, b: a == b,
    "<>": lambda a, b: a != b,
    "<": lambda a, b: a < b,  # type: ignore[operator]
    ">": lambda a, b: a > b,  # type: ignore[operator]
    "<=": lambda a, b: a <= b,  # type: ignore[operator]
    ">=": lambda a, b: a >= b,  # type: ignore[operator]
}


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern.rstrip():
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def _convert(field: Field, literal: str) -> object:
    """A literal in the column's type (what Open SQL compares)."""
    if field.type == "N":
        digits = "".join(c for c in literal if c.isdigit())
        return digits[-field.length :].rjust(field.length, "0")
    if field.type in ("P", "b"):
        try:
            return Decimal(literal.strip() or "0")
        except InvalidOperation as exc:
            raise InvalidCondition(f"{literal!r} is not a number for {field.name}") from exc
    return literal.rstrip()


def _value(field: Field, stored: str) -> object:
    if field.type in ("P", "b"):
        return Decimal(stored or "0")
    if field.type == "N":
        return stored
    return stored.rstrip()
