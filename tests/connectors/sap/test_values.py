"""SAP value images read into the ledger's types (from fixtures shaped like the docs)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from pmo_ledger.connectors.sap.values import (
    inverted_date,
    odata_date,
    odata_datetime,
    sap_amount,
    sap_date,
)


def test_dates_are_yyyymmdd_and_zeros_are_no_date() -> None:
    assert sap_date("20250331", "BUDAT") == date(2025, 3, 31)
    assert sap_date("00000000", "PLSEZ") is None
    assert sap_date("        ", "PLSEZ") is None
    with pytest.raises(ValueError, match="BUDAT is not a valid date: '20250231'"):
        sap_date("20250231", "BUDAT")
    with pytest.raises(ValueError, match="PLFAZ is not a YYYYMMDD date"):
        sap_date("2025-03-31", "PLFAZ")


def test_amounts_take_the_trailing_minus() -> None:
    assert sap_amount("      1234.50-", "WKG003") == Decimal("-1234.5000")
    assert sap_amount("1234.50", "WKG003") == Decimal("1234.5000")
    assert sap_amount("-7.25", "WKG003") == Decimal("-7.2500")
    assert sap_amount("", "WKG003") == Decimal("0.0000")
    assert str(sap_amount("0.00-", "WKG003")) == "0.0000"  # never a negative zero
    for bad in ("12.5-0", "1.2.3", "12--", "abc", "1.00001"):
        with pytest.raises(ValueError, match="WKG003"):
            sap_amount(bad, "WKG003")


def test_odata_dates_are_milliseconds_since_the_epoch() -> None:
    assert odata_datetime("/Date(1700000000000)/", "X") == datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=UTC
    )
    assert odata_datetime("/Date(1700000000000+0000)/", "X") == datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=UTC
    )
    assert odata_date("/Date(1735689600000)/", "ProjectStartDate") == date(2025, 1, 1)
    assert odata_datetime(None, "X") is None
    # The offset is minutes of the local time it was stated in; the ms are UTC already.
    assert odata_datetime("/Date(1700000000000+0060)/", "X") == odata_datetime(
        "/Date(1700000000000)/", "X"
    )
    assert odata_datetime("/Date(1700000000000-0330)/", "X") == datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=UTC
    )
    with pytest.raises(ValueError, match="ProjectEndDate is not an OData"):
        odata_datetime("2025-01-01", "ProjectEndDate")


def test_tcurr_gdatu_is_an_inverted_date() -> None:
    assert inverted_date(f"{99999999 - 20250101}", "GDATU") == date(2025, 1, 1)


def test_tcurr_rates_direct_and_indirect() -> None:
    from pmo_ledger.connectors.sap.values import tcurr_rate

    assert tcurr_rate("1.08500", "1", "1") == Decimal("1.08500000")  # 1 EUR = 1.085 USD
    assert tcurr_rate("-1.18203", "1", "1") == Decimal("0.84600222")  # indirect: 1/1.18203
    assert tcurr_rate("0.92000", "100", "1") == Decimal("0.00920000")  # per 100 units
    with pytest.raises(ValueError, match="zero rate"):
        tcurr_rate("0", "1", "1")
