"""Earned value math, figures computed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pmo_ledger.ledger.evm import Evm

D = Decimal


def test_the_textbook_project() -> None:
    """BAC 100,000; PV 50,000; EV 40,000; AC 45,000.
    CV = -5,000; SV = -10,000; CPI = 0.8889; SPI = 0.8;
    EAC (cpi) = 100,000 / (40/45) = 112,500; ETC = 67,500; VAC = -12,500;
    EAC (remaining at budget) = 45,000 + 60,000 = 105,000;
    EAC (cpi x spi) = 45,000 + 60,000 / (0.888.. x 0.8) = 45,000 + 84,375 = 129,375;
    TCPI = 60,000 / 55,000 = 1.0909."""
    e = Evm(bac=D(100000), pv=D(50000), ev=D(40000), ac=D(45000))
    assert e.rounded() == {
        "bac": "100000.00", "pv": "50000.00", "ev": "40000.00", "ac": "45000.00",
        "cv": "-5000.00", "sv": "-10000.00", "cpi": "0.8889", "spi": "0.8000",
        "eac": "112500.00", "etc": "67500.00", "vac": "-12500.00", "tcpi": "1.0909",
        "eac_method": "cpi",
    }  # fmt: skip
    assert e.eac("remaining_at_budget") == D(105000)
    assert e.rounded("cpi_spi")["eac"] == "129375.00"


def test_zero_denominators_give_no_figure() -> None:
    """No cost yet: no CPI, no EAC by CPI; no plan yet: no SPI; BAC spent: no TCPI."""
    e = Evm(bac=D(1000), pv=D(0), ev=D(0), ac=D(0))
    assert (e.cpi, e.spi, e.eac(), e.eac("cpi_spi"), e.etc(), e.vac()) == (
        None, None, None, None, None, None,
    )  # fmt: skip
    assert e.eac("remaining_at_budget") == D(1000)
    assert Evm(bac=D(10), pv=D(10), ev=D(5), ac=D(10)).tcpi is None
    with pytest.raises(ValueError, match="unknown EAC method"):
        e.eac("magic")


def test_money_rounds_half_up_to_the_cent() -> None:
    """EAC 1000 / (0.3 / 0.2) = 666.666.. -> 666.67; CPI 1.5; a half cent rounds up."""
    e = Evm(bac=D(1000), pv=D("0.3"), ev=D("0.3"), ac=D("0.2"))
    assert (e.rounded()["eac"], e.rounded()["cpi"]) == ("666.67", "1.5000")
    assert Evm(bac=D("0.005"), pv=D(1), ev=D(1), ac=D(1)).rounded()["bac"] == "0.01"
