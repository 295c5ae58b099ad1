"""The settings checks the connectors share (connectors/kit/fields.py), and one connector's
settings reporting them as pydantic errors with the same words."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pmo_ledger.connectors.kit.fields import currency_code, time_zone_name
from pmo_ledger.connectors.sap.settings import SapSettings


def test_a_currency_code_is_three_capitals_and_none_passes() -> None:
    assert currency_code("EUR") == "EUR"
    assert currency_code(None) is None
    with pytest.raises(ValueError, match=r"^expected an ISO currency code like USD, got 'usd'$"):
        currency_code("usd", "USD")
    with pytest.raises(ValueError, match=r"like EUR, got 'EURO'$"):
        currency_code("EURO")


def test_a_time_zone_name_is_one_the_zone_database_knows() -> None:
    assert time_zone_name("Europe/Berlin") == "Europe/Berlin"
    for bad in ("Mars/Olympus", "../etc/passwd", ""):
        with pytest.raises(ValueError, match=r"^not a time zone name like Europe/Berlin: "):
            time_zone_name(bad)


def test_sap_settings_refuse_a_bad_zone_and_currency_with_those_words() -> None:
    with pytest.raises(ValidationError) as caught:
        SapSettings.model_validate(
            {"transport": "odata", "base_url": "https://sap.example.test",
             "system_timezone": "Mars/Olympus", "currency": "eur"}
        )  # fmt: skip
    text = str(caught.value)
    assert "not a time zone name like Europe/Berlin: 'Mars/Olympus'" in text
    assert "expected an ISO currency code like EUR, got 'eur'" in text
