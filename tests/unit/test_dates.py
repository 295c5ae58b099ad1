"""ledger.time.dates: the date a source meant, and technical timestamps in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from pmo_ledger.ledger.time.dates import business_date, http_date, utc_timestamp

MINUS_6 = timezone(timedelta(hours=-6))
EXPECTED = "expected a date like 2025-10-31, 20251031 or a timestamp like 2025-10-31T19:00:00-06:00"


def test_business_date_keeps_the_sources_own_day() -> None:
    """An evening in Chicago is that day, although it is already the next day in UTC."""
    assert business_date("2025-10-31T19:00:00-06:00") == date(2025, 10, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-31", date(2025, 10, 31)),
        ("20251031", date(2025, 10, 31)),
        ("2025-10-31T19:00:00.000+0000", date(2025, 10, 31)),
        ("2025-10-31T23:30:00.000-0800", date(2025, 10, 31)),
        ("2025-10-31T19:00:00:000-0600", date(2025, 10, 31)),
        ("2025-10-31T01:00:00+05:30", date(2025, 10, 31)),
        ("2025-10-31T19:00:00Z", date(2025, 10, 31)),
        ("2025-10-31T19:00:00", date(2025, 10, 31)),
        ("2025-10-31 19:00", date(2025, 10, 31)),
        (" 2025-10-31 ", date(2025, 10, 31)),
    ],
)
def test_business_date_string_forms(text: str, expected: date) -> None:
    """ISO, SAP, Salesforce and Workfront forms all give the stated day."""
    assert business_date(text) == expected


def test_business_date_of_an_aware_datetime_is_its_wall_clock_date() -> None:
    """An aware datetime is not converted to UTC first."""
    assert business_date(datetime(2025, 10, 31, 23, 0, tzinfo=MINUS_6)) == date(2025, 10, 31)


def test_business_date_of_a_naive_datetime_and_a_date() -> None:
    """A naive datetime gives its date; a date is returned as is."""
    naive = datetime(2025, 10, 31, 23, 59)  # noqa: DTZ001 - naive on purpose
    assert business_date(naive) == date(2025, 10, 31)
    assert business_date(date(2025, 2, 28)) == date(2025, 2, 28)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("00000000", "SAP's empty date 00000000 is not a date, got '00000000'"),
        (
            "2025-02-30",
            "not a valid date or time (day is out of range for month), got '2025-02-30'",
        ),
        ("20251301", "not a valid date or time (month must be in 1..12), got '20251301'"),
        (
            "2025-10-31T24:00:00Z",
            "not a valid date or time (hour must be in 0..23), got '2025-10-31T24:00:00Z'",
        ),
        (
            "2025-10-31T19:00:00+2500",
            "not a valid date or time (UTC offset +2500 out of range),"
            " got '2025-10-31T19:00:00+2500'",
        ),
        ("31/10/2025", f"{EXPECTED}, got '31/10/2025'"),
        ("", f"{EXPECTED}, got ''"),
        ("2025-10-31T19:00:00 CET", f"{EXPECTED}, got '2025-10-31T19:00:00 CET'"),
        (None, "expected a date, datetime or string, not NoneType, got None"),
        (20251031, "expected a date, datetime or string, not int, got 20251031"),
    ],
)
def test_business_date_refuses_bad_input_naming_it(value: object, message: str) -> None:
    """Bad input is a ValueError that quotes the value."""
    with pytest.raises(ValueError) as caught:
        business_date(value)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-10-31T19:00:00-06:00", datetime(2025, 11, 1, 1, 0, tzinfo=UTC)),
        ("2025-10-31T19:00:00.250+0000", datetime(2025, 10, 31, 19, 0, 0, 250_000, tzinfo=UTC)),
        ("2025-10-31T19:00:00:000-0600", datetime(2025, 11, 1, 1, 0, tzinfo=UTC)),
        ("2025-10-31T19:00:00Z", datetime(2025, 10, 31, 19, 0, tzinfo=UTC)),
        ("2025-10-31T19:00:00", datetime(2025, 10, 31, 19, 0, tzinfo=UTC)),
        (
            "2025-10-31T19:00:00.123456789+00:00",
            datetime(2025, 10, 31, 19, 0, 0, 123456, tzinfo=UTC),
        ),
        ("2025-10-31", datetime(2025, 10, 31, tzinfo=UTC)),
        ("20251031", datetime(2025, 10, 31, tzinfo=UTC)),
    ],
)
def test_utc_timestamp_string_forms(text: str, expected: datetime) -> None:
    """Every form becomes a UTC-aware datetime; no offset means UTC."""
    result = utc_timestamp(text)
    assert result == expected
    assert result.tzinfo is UTC


def test_utc_timestamp_of_datetimes_and_dates() -> None:
    """Aware datetimes are converted, naive ones taken as UTC, dates are midnight UTC."""
    assert utc_timestamp(datetime(2025, 10, 31, 19, tzinfo=MINUS_6)) == datetime(
        2025, 11, 1, 1, tzinfo=UTC
    )
    naive = datetime(2025, 10, 31, 19)  # noqa: DTZ001 - naive on purpose
    assert utc_timestamp(naive) == datetime(2025, 10, 31, 19, tzinfo=UTC)
    assert utc_timestamp(date(2025, 10, 31)) == datetime(2025, 10, 31, tzinfo=UTC)


def test_utc_timestamp_refuses_bad_input() -> None:
    """Bad strings and other types raise ValueError naming the value."""
    with pytest.raises(ValueError, match="got '00000000'"):
        utc_timestamp("00000000")
    with pytest.raises(ValueError, match=r"not float, got 1\.5$"):
        utc_timestamp(1.5)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon, 02 Mar 2026 09:00:30 GMT", datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)),
        ("Mon, 02 Mar 2026 10:00:30 +0100", datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)),
        ("Mon, 02 Mar 2026 09:00:30 -0000", datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_http_date_reads_a_header_as_utc(value: str | None, expected: datetime | None) -> None:
    assert http_date(value) == expected
