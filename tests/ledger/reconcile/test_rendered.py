"""Findings rendered in SQL (`ledger.reconcile.rendered`) write exactly what the Python helpers
write (`findings.money`, `findings.ratio`, `json.dumps`) and compare with knobs exactly, on
both engines: rounding ties, negative values that round to zero, and amounts whose products
overflow SQLite's 64-bit integers."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.reconcile.findings import money, pct_over, ratio
from pmo_ledger.ledger.reconcile.rendered import Sql, text_of
from pmo_ledger.ledger.types import Money

pytestmark = pytest.mark.filterwarnings("ignore:SELECT statement has a cartesian product")

AMOUNTS = ["0", "0.0049", "0.0050", "-0.0049", "-0.0050", "0.0051", "1234.5650", "-1234.5649",
           "-1234.5650", "0.0001", "-0.0001", "99.9950", "899999999999999.9950",
           "-899999999999999.9999", "12.3449"]  # fmt: skip

# (num, den): ties at the fourth decimal, repeating decimals, a zero numerator over a negative
# denominator (Decimal writes '-0.0000'), and products far beyond 64 bits on SQLite.
RATIOS = [("1", "3"), ("2", "3"), ("-1", "3"), ("1", "-3"), ("0", "-5"), ("0", "5"),
          ("0.0001", "200"), ("-0.0001", "200"), ("0.0001", "-200"), ("0.0001", "400"),
          ("1", "16"), ("600", "5000"), ("-0.0049", "1000000"), ("123456789012.3456", "7.0001"),
          ("899999999999999.9999", "0.0003"), ("0.0001", "899999999999999.9999")]  # fmt: skip

# (num, den, knob): num x 100 / den against the knob, equal to it, just either side of it,
# with knobs finer than the money scale, a negative denominator and huge amounts.
COMPARED = [("10", "100", "10"), ("10.0001", "100", "10"), ("9.9999", "100", "10"),
            ("1", "3", "33.3333"), ("1", "3", "33.33333333333333333333333334"),
            ("1", "3", "33.33333333333333333333333333"),  # 28 digits: Decimal would say no
            ("-10", "-100", "10"), ("10", "-100", "-10"), ("11", "-100", "-10"),
            ("1000.0001", "10000", "10.000001"), ("1000.0001", "10000", "10.000000"),
            ("899999999999999.9999", "1", "89999999999999999.99"),
            ("899999999999999.9999", "1", "90000000000000000")]  # fmt: skip


def _one(session: Session, expr: object) -> object:
    return session.execute(select(expr)).scalar_one()  # type: ignore[call-overload]


def _sql(session: Session) -> Sql:
    return Sql(session.get_bind().dialect.name)


def _money(value: str) -> object:
    """A money column holding `value` (as the rules read them: SQLite's scaled integer)."""
    return select(literal(Decimal(value), Money()).label("x")).subquery().c.x


@pytest.mark.parametrize("value", AMOUNTS)
def test_money_text_is_what_python_writes(session: Session, value: str) -> None:
    assert _one(session, _sql(session).money(_money(value))) == money(Decimal(value))


def test_money_text_of_a_few_values(session: Session) -> None:
    sql = _sql(session)
    got = [_one(session, sql.money(_money(v))) for v in ("-0.0049", "1234.5650", "0.0050")]
    assert got == ["-0.00", "1234.57", "0.01"]


@pytest.mark.parametrize(("num", "den"), RATIOS)
def test_ratio_text_is_what_python_writes(session: Session, num: str, den: str) -> None:
    expected = ratio(pct_over(Decimal(num) + Decimal(den), Decimal(den)))  # (a - b) x 100 / b
    got = _one(session, _sql(session).ratio(_money(num), _money(den)))
    assert got == expected


def test_ratio_text_of_a_few_values(session: Session) -> None:
    sql = _sql(session)
    got = [_one(session, sql.ratio(_money(n), _money(d)))
           for n, d in (("0.0001", "200"), ("0", "-5"), ("2", "3"), ("1", "0"))]  # fmt: skip
    assert got == ["0.0001", "-0.0000", "66.6667", None]


@pytest.mark.parametrize(("num", "den", "knob"), COMPARED)
def test_pct_gt_compares_exactly(session: Session, num: str, den: str, knob: str) -> None:
    sql = _sql(session)
    expr = sql.pct_gt(_money(num), _money(den), sql.pct_literal(Decimal(knob)))
    exact = Fraction(Decimal(num)) * 100 / Fraction(Decimal(den)) > Fraction(Decimal(knob))
    assert bool(_one(session, expr)) is exact


@pytest.mark.parametrize(
    ("value", "knob", "above"),
    [("1000.0001", "1000.00005", True), ("1000.0000", "1000", False),
     ("1000.0001", "1000.0001", False), ("-0.0001", "0", False), ("0.0001", "0", True),
     ("1000.0000", "999.99999", True)],
)  # fmt: skip
def test_value_compares_money_with_a_finer_knob(
    session: Session, value: str, knob: str, above: bool
) -> None:
    sql = _sql(session)
    assert bool(_one(session, sql.raw(_money(value)) > sql.value(Decimal(knob)))) is above


def test_json_object_is_what_json_dumps_writes(session: Session) -> None:
    sql = _sql(session)
    text = sql.json_object(
        [("actual", sql.money(_money("12.345"))), ("over_pct", sql.ratio(_money("1"), _money("0"))),
         ("through", "2025-10"), ("n", 3), ("none", None)]
    )  # fmt: skip
    expected = {"actual": "12.35", "over_pct": None, "through": "2025-10", "n": 3, "none": None}
    got = _one(session, text)
    assert got == json.dumps(expected)
    assert json.loads(str(got)) == expected
    assert _one(session, text_of('a "b"')) == 'a "b"'
