"""Findings rendered in SQL: the rules with tens of thousands of findings (budget_overrun,
burn_rate, source_disagreement) select their findings as rows of the stage
(`STAGE_COLUMNS`) instead of building `Finding` objects one by one in Python (about 50 us
each: most of a reconcile at 1,000,000 lines).

`Sql` writes the same text as `findings.money` and `findings.ratio` and compares with a
rule's knobs exactly, on both engines:
- PostgreSQL: NUMERIC is exact; a percent is rounded half up from the exact quotient;
- SQLite: amounts are integers x10^4 (`ledger.types`). An amount's text is integer
  arithmetic; a percent, and a percent compared with a knob, go through the connection's
  `pmo_ratio` and `pmo_pct_gt` (`ledger.sqlite_functions`, Decimal in Python), because the
  products overflow 64 bits for amounts in the hundreds of millions.

Knobs differ per project only where overrides apply: `Sql.knob` is a literal, or a CASE over
the groups of projects that share a value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import reduce
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ColumnElement,
    Integer,
    Numeric,
    Select,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
)

from pmo_ledger.ledger.reconcile.settings import SEVERITY_RANK, RuleSettings

#: The columns a rendered SELECT yields, in order (the stage's, see `store`).
STAGE_COLUMNS = (
    "rule",
    "subject_type",
    "subject_id",
    "dimension",
    "period",
    "severity",
    "rank",
    "message",
    "measures",
    "thresholds",
    "project_id",
)
_UNITS = Decimal(10) ** 4  # SQLite: money is an integer x10^4


@dataclass(frozen=True)
class Rendered:
    """Findings a rule selects in SQL: SELECTs of `STAGE_COLUMNS`."""

    selects: tuple[Select[Any], ...]


def _inline(ids: list[int]) -> Any:
    """Project ids written into the statement: an override of a large portfolio would pass
    the bound-parameter limit, and PostgreSQL hashes an IN list of constants."""
    return bindparam(None, ids, expanding=True, literal_execute=True)


def text_of(value: str) -> ColumnElement[str]:
    return literal(value, Text())


def cat(*parts: ColumnElement[Any] | str) -> ColumnElement[str]:
    """Text concatenation (`||`; NULL if a part is NULL)."""
    exprs = [text_of(p) if isinstance(p, str) else p for p in parts]
    return reduce(lambda a, b: a.op("||", return_type=Text())(b), exprs)


class Sql:
    """Expressions over money values of one engine (see the module's docstring)."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"

    def raw(self, x: Any) -> ColumnElement[Any]:
        """A money expression as the engine holds it (Numeric, or SQLite's scaled integer),
        so literals beside it are not converted as money."""
        return type_coerce(x, BigInteger() if self.sqlite else Numeric())

    def value(self, amount: Decimal) -> ColumnElement[Any]:
        """A knob amount to compare a money expression with: exact on PostgreSQL; on SQLite
        its floor in units of 10^-4 (for an integer x, x > k exactly when x > floor(k))."""
        if self.sqlite:
            return literal(int((amount * _UNITS).to_integral_value(ROUND_FLOOR)), BigInteger())
        return literal(amount, Numeric())

    def value_at_least(self, amount: Decimal) -> ColumnElement[Any]:
        """A knob amount that a money expression is at least (`x >= value_at_least(k)`):
        exact on PostgreSQL; on SQLite its ceiling in units of 10^-4."""
        if self.sqlite:
            return literal(int((amount * _UNITS).to_integral_value(ROUND_CEILING)), BigInteger())
        return literal(amount, Numeric())

    def money(self, x: Any) -> ColumnElement[str]:
        """`findings.money(x)`: rounded half up to the cent, '-' kept on a negative value that
        rounds to 0 ('-0.00', as Decimal writes it)."""
        x = self.raw(x)
        sign = case((x < 0, text_of("-")), else_=text_of(""))
        if not self.sqlite:
            return cat(sign, cast(func.round(func.abs(x), 2), Text()))
        cents = (func.abs(x) + 50) // 100  # integer division: half up on the magnitude
        return cat(
            sign,
            cast(cents // 100, Text()),
            ".",
            func.substr(cat("0", cast(cents % 100, Text())), -2),
        )

    def ratio(self, num: Any, den: Any) -> ColumnElement[str]:
        """`findings.ratio(num * 100 / den)`; NULL when den is 0. Decimal's sign: negative
        when exactly one of num (0 counts as positive) and den is."""
        num, den = self.raw(num), self.raw(den)
        if self.sqlite:
            return func.pmo_ratio(num, den, type_=Text())
        sign = case((or_(and_(num < 0, den > 0), and_(num >= 0, den < 0)), text_of("-")),
                    else_=text_of(""))  # fmt: skip
        # round(|num| x 10^6 / |den|) half up, in units of 10^-4: exact integer division
        units = func.div(func.abs(num) * 2_000_000 + func.abs(den), func.abs(den) * 2)
        text = cat(sign, cast(units * literal_column("0.0001"), Text()))
        return case((den == 0, null()), else_=text)

    def pct_gt(self, num: Any, den: Any, knob: Any) -> ColumnElement[bool]:
        """num x 100 / den > knob (den not 0; `knob` from `knob(..., pct=True)`)."""
        num, den = self.raw(num), self.raw(den)
        if self.sqlite:
            return func.pmo_pct_gt(num, den, knob, type_=Integer()) == 1
        return case(
            (den > 0, num * 100 > knob * den),
            else_=num * 100 < knob * den,
        )

    def pct_literal(self, pct: Decimal) -> ColumnElement[Any]:
        """A percent knob as `pct_gt` takes it (SQLite: the decimal's text)."""
        return text_of(str(pct)) if self.sqlite else literal(pct, Numeric())

    def knob(
        self,
        groups: Sequence[tuple[RuleSettings, list[int]]],
        project_id: Any,
        render: Callable[[RuleSettings], ColumnElement[Any]],
    ) -> ColumnElement[Any]:
        """A per-project knob: `render` of the settings of the group holding `project_id`.
        `groups` come from `project_groups`: the last one is the default (no project list)."""
        *special, (default, _) = groups
        if not special:
            return render(default)
        return case(
            *((project_id.in_(_inline(ids)), render(s)) for s, ids in special),
            else_=render(default),
        )

    @staticmethod
    def json_object(items: Sequence[tuple[str, Any]]) -> ColumnElement[str]:
        """The text `json.dumps` writes for a dict of `items`: a Python value (str, int, None)
        is dumped as it is, an SQL text expression becomes a JSON string (null when NULL). SQL
        values are amounts and codes that need no escaping."""
        parts: list[ColumnElement[Any] | str] = ["{"]
        for i, (key, value) in enumerate(items):
            parts.append(("" if i == 0 else ", ") + json.dumps(key) + ": ")
            if isinstance(value, ColumnElement):
                parts.append(func.coalesce(cat('"', value, '"'), text_of("null")))
            else:
                parts.append(json.dumps(value))
        parts.append("}")
        merged: list[ColumnElement[Any] | str] = []
        for p in parts:  # adjacent literals as one
            if isinstance(p, str) and merged and isinstance(merged[-1], str):
                merged[-1] += p
            else:
                merged.append(p)
        return cat(*merged)

    def as_json(self, text: ColumnElement[str]) -> ColumnElement[Any]:
        """JSON text for a JSON column (PostgreSQL: cast; SQLite stores the text as it is:
        coerced to JSON, a bound literal would be encoded again)."""
        return text if self.sqlite else cast(text, JSON())


def once(query: Select[Any], name: str) -> Any:
    """`query` as a materialized CTE: computed once, however often the statement reads its
    columns (a subquery is inlined, and each use of a column computes its expression again)."""
    return (
        query.cte(name)
        .prefix_with("MATERIALIZED", dialect="postgresql")
        .prefix_with("MATERIALIZED", dialect="sqlite")
    )


def project_finding(
    sql: Sql,
    rule: str,
    *,
    code: Any,
    dimension: Any,
    period: Any,
    high: Any,
    message: ColumnElement[str],
    measures: ColumnElement[str],
    thresholds: ColumnElement[str],
    project_id: Any,
) -> Select[Any]:
    """The stage row (`STAGE_COLUMNS`) of a finding about a project."""
    level, rank = severity(high)
    return select(
        text_of(rule),
        text_of("project"),
        code,
        dimension,
        period,
        level,
        rank,
        message,
        sql.as_json(measures),
        sql.as_json(thresholds),
        project_id,
    )


def severity(high: ColumnElement[bool]) -> tuple[ColumnElement[str], ColumnElement[int]]:
    """('high' | 'medium', its rank) as the rules' `RuleSettings.severity` decides."""
    return (
        case((high, text_of("high")), else_=text_of("medium")),
        case((high, literal(SEVERITY_RANK["high"])), else_=literal(SEVERITY_RANK["medium"])),
    )
