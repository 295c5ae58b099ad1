"""A recursive-descent parser for the SOQL the connector and its tests send.

    query      := SELECT items FROM ident [WHERE cond] [GROUP BY paths] [ORDER BY orders]
                  [LIMIT number]
    items      := item ("," item)*
    item       := path | COUNT "(" [path] ")" [alias] | (SUM|MIN|MAX|AVG) "(" path ")" [alias]
    cond       := conj (OR conj)*
    conj       := unary (AND unary)*
    unary      := NOT unary | "(" cond ")" | path op literal | path [NOT] IN "(" literals ")"
                | path LIKE string
    orders     := order ("," order)*
    order      := (path | aggregate) [ASC|DESC] [NULLS (FIRST|LAST)]

The parser knows only syntax; `evaluate` binds names to the schema and checks types.
Keywords are case-insensitive.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from pmo_ledger.connectors.salesforce.sandbox.soql_tokens import Kind, Token, located, tokenize

AGGREGATES = ("COUNT", "SUM", "MIN", "MAX", "AVG")
_RESERVED = {"FROM", "WHERE", "GROUP", "ORDER", "LIMIT", "AND", "OR", "NOT", "IN", "LIKE"}


@dataclass(frozen=True, slots=True)
class Path:
    """A field or a relationship path (`pse__Region__r.Name`) as written; `pos` for errors."""

    parts: tuple[str, ...]
    pos: int

    @property
    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Aggregate:
    """COUNT() (path None), COUNT(path), SUM/MIN/MAX/AVG(path), with its alias if any."""

    function: str
    path: Path | None
    alias: str | None
    pos: int


SelectItem = Path | Aggregate


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal: `kind` STRING (str), NUMBER (Decimal), DATE, DATETIME, BOOLEAN, NULL."""

    kind: str
    value: object
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    path: Path
    op: str  # = != < <= > >= LIKE
    literal: Literal


@dataclass(frozen=True, slots=True)
class InList:
    path: Path
    literals: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # AND | OR
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition = Compare | InList | BoolOp | Not


@dataclass(frozen=True, slots=True)
class Order:
    key: Path | Aggregate
    descending: bool
    nulls_first: bool


@dataclass(frozen=True, slots=True)
class Query:
    text: str
    select: tuple[SelectItem, ...]
    sobject: str
    sobject_pos: int
    where: Condition | None
    group_by: tuple[Path, ...]
    order_by: tuple[Order, ...]
    limit: int | None


def parse(text: str) -> Query:
    """Parse one SOQL query. Raises SoqlError (MALFORMED_QUERY) worded like Salesforce."""
    return _Parser(text).query()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # --- token helpers -------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def unexpected(self, token: Token | None = None) -> Exception:
        token = token or self.tok
        text = token.text if token.kind is not Kind.EOF else "<EOF>"
        return located("MALFORMED_QUERY", self.text, token.pos, f"unexpected token: '{text}'")

    def expect_word(self, *words: str) -> Token:
        if not self.tok.is_word(*words):
            raise self.unexpected()
        return self.advance()

    def expect(self, kind: Kind) -> Token:
        if self.tok.kind is not kind:
            raise self.unexpected()
        return self.advance()

    def accept(self, kind: Kind) -> bool:
        if self.tok.kind is kind:
            self.i += 1
            return True
        return False

    def path(self) -> Path:
        token = self.tok
        if token.kind is not Kind.IDENT or token.text.upper() in _RESERVED:
            raise self.unexpected()
        self.advance()
        return Path(tuple(token.text.split(".")), token.pos)

    # --- clauses -------------------------------------------------------------------------
    def query(self) -> Query:
        self.expect_word("SELECT")
        select = [self.select_item()]
        while self.accept(Kind.COMMA):
            select.append(self.select_item())
        self.expect_word("FROM")
        sobject = self.expect(Kind.IDENT)
        if "." in sobject.text:
            raise self.unexpected(sobject)
        where: Condition | None = None
        group_by: list[Path] = []
        order_by: list[Order] = []
        limit: int | None = None
        if self.tok.is_word("WHERE"):
            self.advance()
            where = self.condition()
        if self.tok.is_word("GROUP"):
            self.advance()
            self.expect_word("BY")
            group_by = self.paths()
        if self.tok.is_word("ORDER"):
            self.advance()
            self.expect_word("BY")
            order_by = [self.order()]
            while self.accept(Kind.COMMA):
                order_by.append(self.order())
        if self.tok.is_word("LIMIT"):
            self.advance()
            number = self.expect(Kind.NUMBER)
            if not number.text.isdigit():
                raise self.unexpected(number)
            limit = int(number.text)
        if self.tok.kind is not Kind.EOF:
            raise self.unexpected()
        return Query(
            self.text,
            tuple(select),
            sobject.text,
            sobject.pos,
            where,
            tuple(group_by),
            tuple(order_by),
            limit,
        )

    def paths(self) -> list[Path]:
        paths = [self.path()]
        while self.accept(Kind.COMMA):
            paths.append(self.path())
        return paths

    def aggregate(self) -> Aggregate:
        name = self.advance()
        self.expect(Kind.LPAREN)
        path = None
        if name.text.upper() != "COUNT" or self.tok.kind is not Kind.RPAREN:
            path = self.path()
        self.expect(Kind.RPAREN)
        return Aggregate(name.text.upper(), path, None, name.pos)

    def is_aggregate_start(self) -> bool:
        nxt = self.tokens[self.i + 1]
        return self.tok.is_word(*AGGREGATES) and nxt.kind is Kind.LPAREN

    def select_item(self) -> SelectItem:
        if not self.is_aggregate_start():
            return self.path()
        item = self.aggregate()
        if self.tok.kind is Kind.IDENT and self.tok.text.upper() not in _RESERVED:
            alias = self.advance()
            if "." in alias.text:
                raise self.unexpected(alias)
            return Aggregate(item.function, item.path, alias.text, item.pos)
        return item

    def order(self) -> Order:
        key: Path | Aggregate = self.aggregate() if self.is_aggregate_start() else self.path()
        descending = False
        if self.tok.is_word("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_first = True
        if self.tok.is_word("NULLS"):
            self.advance()
            nulls_first = self.expect_word("FIRST", "LAST").text.upper() == "FIRST"
        return Order(key, descending, nulls_first)

    # --- conditions ----------------------------------------------------------------------
    def condition(self) -> Condition:
        items = [self.conjunction()]
        while self.tok.is_word("OR"):
            self.advance()
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def conjunction(self) -> Condition:
        items = [self.unary()]
        while self.tok.is_word("AND"):
            self.advance()
            items.append(self.unary())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def unary(self) -> Condition:
        if self.tok.is_word("NOT"):
            self.advance()
            return Not(self.unary())
        if self.accept(Kind.LPAREN):
            inner = self.condition()
            self.expect(Kind.RPAREN)
            return inner
        path = self.path()
        if self.tok.is_word("NOT", "IN"):
            negated = self.advance().text.upper() == "NOT"
            if negated:
                self.expect_word("IN")
            self.expect(Kind.LPAREN)
            literals = [self.literal()]
            while self.accept(Kind.COMMA):
                literals.append(self.literal())
            self.expect(Kind.RPAREN)
            return InList(path, tuple(literals), negated)
        if self.tok.is_word("LIKE"):
            self.advance()
            pattern = self.literal()
            if pattern.kind != "STRING":
                raise self.unexpected(self.tokens[self.i - 1])
            return Compare(path, "LIKE", pattern)
        op = self.expect(Kind.OP).text
        return Compare(path, "!=" if op == "<>" else op, self.literal())

    def literal(self) -> Literal:
        token = self.tok
        if token.kind is Kind.STRING:
            value: object = token.value
            kind = "STRING"
        elif token.kind is Kind.NUMBER:
            value, kind = Decimal(token.text), "NUMBER"
        elif token.kind in (Kind.DATE, Kind.DATETIME):
            value, kind = token.value, token.kind.name
        elif token.is_word("TRUE", "FALSE"):
            value, kind = token.text.upper() == "TRUE", "BOOLEAN"
        elif token.is_word("NULL"):
            value, kind = None, "NULL"
        else:
            raise self.unexpected()
        self.advance()
        return Literal(kind, value, token.pos)
