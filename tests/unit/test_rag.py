"""ledger.rag: the `[report.rag]` rules, worst wins, missing figures skipped, boundaries."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from pmo_ledger.jobs.config import AppConfig
from pmo_ledger.ledger.rag import RagRules, consumption, rag

RULES = RagRules()


@pytest.mark.parametrize(
    ("cpi", "spi", "consumed", "status"),
    [
        (D("1.0"), D("1.0"), D("0.5"), "green"),
        (D("0.95"), D("0.95"), D("0.90"), "green"),  # exactly met is not past
        (D("0.9499"), D("1.0"), D("0.5"), "amber"),
        (D("1.0"), D("0.94"), D("0.5"), "amber"),
        (D("1.0"), D("1.0"), D("0.91"), "amber"),
        (D("0.8999"), D("1.0"), D("0.5"), "red"),
        (D("0.94"), D("0.85"), D("0.5"), "red"),  # worst wins
        (D("1.2"), D("1.2"), D("1.0001"), "red"),  # over budget
        (None, None, D("0.95"), "amber"),  # no baseline: consumption alone
        (D("0.85"), None, None, "red"),
        (None, None, None, None),
    ],
)
def test_status_by_the_default_rules(
    cpi: D | None, spi: D | None, consumed: D | None, status: str | None
) -> None:
    assert rag(RULES, cpi=cpi, spi=spi, consumed=consumed).status == status


def test_reasons_name_the_figure_and_threshold() -> None:
    r = rag(RULES, cpi=D("0.85"), spi=D("0.93"), consumed=D("1.05"))
    assert r.status == "red"
    assert r.reasons == ("CPI 0.8500 < 0.90", "budget used 105.0% > 100%")
    assert rag(RULES, cpi=None, spi=None, consumed=None).label == "n/a"
    assert rag(RULES, cpi=D("0.93"), spi=None, consumed=None).label == "AMBER"


def test_configured_thresholds_and_their_order() -> None:
    cfg = AppConfig.model_validate({"report": {"rag": {"red_cpi": "0.8", "amber_cpi": "0.85"}}})
    rules = cfg.report.rag
    assert rules.red_cpi == D("0.8")
    assert rag(rules, cpi=D("0.82"), spi=None, consumed=None).status == "amber"
    assert AppConfig.model_validate({}).report.rag == RagRules()
    with pytest.raises(ValidationError, match="red_cpi must not be above amber_cpi"):
        RagRules(red_cpi=D("0.97"))
    with pytest.raises(ValidationError, match="red_consumption must not be below"):
        RagRules(red_consumption=D("0.8"))
    with pytest.raises(ValidationError):
        RagRules.model_validate({"red_cpy": "0.9"})


def test_consumption() -> None:
    assert consumption(D("450"), D("1000")) == D("0.45")
    assert consumption(D("450"), D("0")) is None
