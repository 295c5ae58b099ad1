"""ledger.time.calendar: fiscal periods generated from [ledger.calendar] (rule 10), exact dates."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import (
    PeriodSpec,
    default_range,
    fiscal_year_of,
    generate_year,
    generate_years,
    parse_period,
    period_key,
    read_calendar_file,
    year_bounds,
)
from pmo_ledger.ledger.time.dates import business_date
from pmo_ledger.ledger.time.periods import PeriodIndex

D = date


def cal(**kwargs: Any) -> CalendarSettings:
    """Calendar settings with the given fields."""
    return CalendarSettings(**kwargs)


def spans(periods: list[PeriodSpec]) -> list[tuple[str, date, date]]:
    """(key, start, end) of each period."""
    return [(p.key, p.start_on, p.end_on) for p in periods]


def weeks(periods: list[PeriodSpec]) -> list[int]:
    """Length of each period in weeks."""
    return [((p.end_on - p.start_on).days + 1) // 7 for p in periods]


# --- keys ---------------------------------------------------------------------------------


def test_period_key_is_year_dash_two_digit_period() -> None:
    """Keys are 'YYYY-PP'."""
    assert period_key(2025, 3) == "2025-03"
    assert period_key(2025, 13) == "2025-13"


@pytest.mark.parametrize(("year", "number"), [(2025, 0), (2025, 17), (0, 1), (10000, 1)])
def test_period_key_refuses_out_of_range(year: int, number: int) -> None:
    """Period numbers run 1-16, years 1-9999."""
    with pytest.raises(ValueError, match=f"no period {number} of fiscal year {year}"):
        period_key(year, number)


def test_parse_period_reads_a_key() -> None:
    """'2025-03' -> (2025, 3); special periods parse too."""
    assert parse_period("2025-03") == (2025, 3)
    assert parse_period("2025-16") == (2025, 16)


@pytest.mark.parametrize(
    "text", ["2025-3", "2025-00", "2025-17", "25-03", "2025/03", "2025-03 ", ""]
)
def test_parse_period_refuses_other_text(text: str) -> None:
    """Anything but 'YYYY-PP' with PP 01-16 is refused with the expected form."""
    with pytest.raises(ValueError) as caught:
        parse_period(text)
    assert str(caught.value) == f"expected a period like 2025-03, got {text!r}"


# --- months -------------------------------------------------------------------------------


def test_months_january_start() -> None:
    """Calendar months; period 10 of 2025 is October 2025."""
    periods = generate_year(cal(), 2025)
    assert len(periods) == 12
    assert spans(periods)[9] == ("2025-10", D(2025, 10, 1), D(2025, 10, 31))
    assert spans(periods)[1] == ("2025-02", D(2025, 2, 1), D(2025, 2, 28))
    assert year_bounds(cal(), 2025) == (D(2025, 1, 1), D(2025, 12, 31))


def test_months_april_start_labelled_by_end_year() -> None:
    """FY2026 runs April 2025 to March 2026."""
    periods = generate_year(cal(start_month=4, year_label="end"), 2026)
    assert spans(periods)[0] == ("2026-01", D(2025, 4, 1), D(2025, 4, 30))
    assert spans(periods)[9] == ("2026-10", D(2026, 1, 1), D(2026, 1, 31))
    assert spans(periods)[11] == ("2026-12", D(2026, 3, 1), D(2026, 3, 31))


def test_months_april_start_labelled_by_start_year() -> None:
    """FY2025 runs April 2025 to March 2026."""
    c = cal(start_month=4, year_label="start")
    assert year_bounds(c, 2025) == (D(2025, 4, 1), D(2026, 3, 31))
    assert spans(generate_year(c, 2025))[11] == ("2025-12", D(2026, 3, 1), D(2026, 3, 31))


@pytest.mark.parametrize(
    ("label", "day", "fiscal_year"),
    [
        ("end", D(2025, 3, 31), 2025),
        ("end", D(2025, 4, 1), 2026),
        ("start", D(2025, 3, 31), 2024),
        ("start", D(2025, 4, 1), 2025),
    ],
)
def test_fiscal_year_of_april_start(label: str, day: date, fiscal_year: int) -> None:
    """The year changes on April 1st; its label follows year_label."""
    assert fiscal_year_of(cal(start_month=4, year_label=label), day) == fiscal_year


# --- 4-4-5 and friends --------------------------------------------------------------------


def test_445_last_saturday_of_december_52_weeks() -> None:
    """FY2023 ends on the last Saturday of December 2023, the 30th; 4/4/5-week periods."""
    periods = generate_year(cal(type="445"), 2023)
    assert year_bounds(cal(type="445"), 2023) == (D(2023, 1, 1), D(2023, 12, 30))
    assert weeks(periods) == [4, 4, 5] * 4
    assert spans(periods)[:3] == [
        ("2023-01", D(2023, 1, 1), D(2023, 1, 28)),
        ("2023-02", D(2023, 1, 29), D(2023, 2, 25)),
        ("2023-03", D(2023, 2, 26), D(2023, 4, 1)),
    ]
    assert spans(periods)[11] == ("2023-12", D(2023, 11, 26), D(2023, 12, 30))


def test_445_last_saturday_53_week_year_puts_the_extra_week_in_period_12() -> None:
    """FY2022 runs 2021-12-26 (after the last Saturday of 2021) to Saturday 2022-12-31."""
    c = cal(type="445")
    periods = generate_year(c, 2022)
    assert year_bounds(c, 2022) == (D(2021, 12, 26), D(2022, 12, 31))
    assert weeks(periods) == [4, 4, 5] * 3 + [4, 4, 6]
    assert spans(periods)[0] == ("2022-01", D(2021, 12, 26), D(2022, 1, 22))
    assert spans(periods)[11] == ("2022-12", D(2022, 11, 20), D(2022, 12, 31))


def test_445_nearest_saturday_can_end_in_january() -> None:
    """Nearest Saturday to 2020-12-31 (a Thursday) is 2021-01-02: FY2020 has 53 weeks."""
    c = cal(type="445", week_rule="nearest")
    assert year_bounds(c, 2020) == (D(2019, 12, 29), D(2021, 1, 2))
    assert year_bounds(c, 2021) == (D(2021, 1, 3), D(2022, 1, 1))
    assert year_bounds(c, 2022) == (D(2022, 1, 2), D(2022, 12, 31))
    assert fiscal_year_of(c, D(2021, 1, 2)) == 2020
    assert fiscal_year_of(c, D(2022, 1, 1)) == 2021
    assert weeks(generate_year(c, 2020)) == [4, 4, 5] * 3 + [4, 4, 6]


def test_445_last_saturday_of_september_like_apple() -> None:
    """Year ends the last Saturday of September: FY2023 (53 weeks) ends 2023-09-30."""
    c = cal(type="445", start_month=10)
    assert year_bounds(c, 2023) == (D(2022, 9, 25), D(2023, 9, 30))
    assert year_bounds(c, 2024) == (D(2023, 10, 1), D(2024, 9, 28))
    assert fiscal_year_of(c, D(2022, 9, 24)) == 2022


def test_sunday_nearest_end_of_august_like_costco() -> None:
    """Year ends the Sunday nearest August 31st: FY2023 (53 weeks) ends 2023-09-03."""
    c = cal(type="445", start_month=9, week_end_day="sunday", week_rule="nearest")
    assert year_bounds(c, 2023) == (D(2022, 8, 29), D(2023, 9, 3))
    assert year_bounds(c, 2024) == (D(2023, 9, 4), D(2024, 9, 1))


def test_454_pattern() -> None:
    """4/5/4-week periods; FY2024 starts 2023-12-31."""
    periods = generate_year(cal(type="454"), 2024)
    assert weeks(periods) == [4, 5, 4] * 4
    assert spans(periods)[:3] == [
        ("2024-01", D(2023, 12, 31), D(2024, 1, 27)),
        ("2024-02", D(2024, 1, 28), D(2024, 3, 2)),
        ("2024-03", D(2024, 3, 3), D(2024, 3, 30)),
    ]


def test_544_pattern() -> None:
    """5/4/4-week periods; FY2024 starts 2023-12-31."""
    periods = generate_year(cal(type="544"), 2024)
    assert weeks(periods) == [5, 4, 4] * 4
    assert spans(periods)[:3] == [
        ("2024-01", D(2023, 12, 31), D(2024, 2, 3)),
        ("2024-02", D(2024, 2, 4), D(2024, 3, 2)),
        ("2024-03", D(2024, 3, 3), D(2024, 3, 30)),
    ]


def test_13x4_has_13_periods_of_4_weeks() -> None:
    """FY2024: 364 days, period 13 is 2024-12-01..2024-12-28."""
    periods = generate_year(cal(type="13x4"), 2024)
    assert weeks(periods) == [4] * 13
    assert (periods[-1].end_on - periods[0].start_on).days + 1 == 364
    assert spans(periods)[12] == ("2024-13", D(2024, 12, 1), D(2024, 12, 28))


def test_13x4_53_week_year_puts_the_extra_week_in_period_13() -> None:
    """FY2022: 371 days, period 13 is five weeks."""
    periods = generate_year(cal(type="13x4"), 2022)
    assert (periods[-1].end_on - periods[0].start_on).days + 1 == 371
    assert spans(periods)[12] == ("2022-13", D(2022, 11, 27), D(2022, 12, 31))


# --- special periods ----------------------------------------------------------------------


def test_special_periods_follow_a_12_period_year() -> None:
    """Periods 13-16 are the year's last day, flagged special."""
    periods = generate_year(cal(special_periods=4), 2025)
    assert len(periods) == 16
    assert [(p.key, p.start_on, p.end_on, p.special) for p in periods[12:]] == [
        (f"2025-{n}", D(2025, 12, 31), D(2025, 12, 31), True) for n in (13, 14, 15, 16)
    ]
    assert not any(p.special for p in periods[:12])


def test_dates_never_file_into_special_periods() -> None:
    """The year's last day belongs to period 12, not to a special period."""
    index = PeriodIndex(generate_year(cal(special_periods=2), 2025))
    assert index.period_for(D(2025, 12, 31)) == "2025-12"
    assert index.contains("2025-14")
    assert index.bounds("2025-13") == (D(2025, 12, 31), D(2025, 12, 31))


# --- calendar file ------------------------------------------------------------------------


def write_months_file(path: Path, years: range, extra: str = "") -> Path:
    """A calendar CSV of calendar months for `years`, plus raw `extra` lines."""
    lines = ["fiscal_year,period_no,start_on,end_on"]
    for fy in years:
        for p in generate_year(cal(), fy):
            lines.append(f"{fy},{p.period_no},{p.start_on},{p.end_on}")
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def test_file_calendar_reads_its_periods(tmp_path: Path) -> None:
    """A file calendar gives the file's periods, plus special periods."""
    path = write_months_file(tmp_path / "cal.csv", range(2024, 2026))
    c = cal(type="file", file=path, special_periods=1)
    periods = generate_year(c, 2025)
    assert spans(periods)[9] == ("2025-10", D(2025, 10, 1), D(2025, 10, 31))
    assert spans(periods)[12] == ("2025-13", D(2025, 12, 31), D(2025, 12, 31))
    assert fiscal_year_of(c, D(2024, 7, 4)) == 2024
    assert default_range(c, D(2030, 1, 1)) == (D(2024, 1, 1), D(2025, 12, 31))


def test_file_calendar_outside_the_file(tmp_path: Path) -> None:
    """A year or day the file lacks is a LookupError."""
    path = write_months_file(tmp_path / "cal.csv", range(2024, 2025))
    c = cal(type="file", file=path)
    with pytest.raises(LookupError, match="fiscal year 2030 is not in the calendar file"):
        generate_year(c, 2030)
    with pytest.raises(LookupError, match="2023-12-31 is not in the calendar file"):
        fiscal_year_of(c, D(2023, 12, 31))


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            "2025,1,2025-01-01,2025-01-31\n2025,2,2025-01-31,2025-02-28\n",
            "cal.csv:3: period 2025-02 (2025-01-31..2025-02-28) overlaps 2025-01"
            " (2025-01-01..2025-01-31)",
        ),
        (
            "2025,1,2025-01-01,2025-01-31\n2025,2,2025-02-02,2025-02-28\n",
            "cal.csv:3: period 2025-02 (2025-02-02..2025-02-28) leaves a gap after 2025-01,"
            " which ends 2025-01-31",
        ),
        (
            "2025,1,2025-01-01,2025-01-31\n2025,3,2025-02-01,2025-02-28\n",
            "cal.csv:3: period 2025-03 (2025-02-01..2025-02-28) does not follow 2025-01",
        ),
        ("2025,1,2025-01-01,2025-13-01\n", "cal.csv:2: month must be in 1..12"),
        ("2025,1,2025-01-31,2025-01-01\n", "cal.csv:2: period 2025-01 ends (2025-01-01)"),
        ("2025,17,2025-01-01,2025-01-31\n", "cal.csv:2: no period 17 of fiscal year 2025"),
        ("2025,1,2025-01-01\n", "cal.csv:2: expected 4 columns, got 3"),
        (
            "2025,1,2025-01-01,2025-01-31\n2025,1,2025-01-01,2025-01-31\n",
            "cal.csv:3: period 2025-01 is already on line 2",
        ),
        ("2025,2,2025-01-01,2025-01-31\n", "cal.csv:2: the first period 2025-02 is not period 01"),
    ],
)
def test_bad_calendar_file_names_the_line(tmp_path: Path, body: str, error: str) -> None:
    """Overlaps, gaps, bad numbering and bad values are reported with their line."""
    path = tmp_path / "cal.csv"
    path.write_text("fiscal_year,period_no,start_on,end_on\n" + body)
    with pytest.raises(ValueError, match=r"^bad calendar file:") as caught:
        read_calendar_file(path)
    assert f"{tmp_path}/{error}" in str(caught.value)


def test_calendar_file_needs_its_header(tmp_path: Path) -> None:
    """A file without the expected header is refused at line 1."""
    path = tmp_path / "cal.csv"
    path.write_text("year,period,from,to\n")
    with pytest.raises(ValueError, match=r"cal\.csv:1: expected the header"):
        read_calendar_file(path)


def test_special_periods_need_12_period_years_in_a_file(tmp_path: Path) -> None:
    """A file year of 13 periods cannot take special periods."""
    path = tmp_path / "cal.csv"
    rows = [
        f"2024,{p.period_no},{p.start_on},{p.end_on}" for p in generate_year(cal(type="13x4"), 2024)
    ]
    path.write_text("fiscal_year,period_no,start_on,end_on\n" + "\n".join(rows))
    with pytest.raises(ValueError, match="fiscal year 2024 has 13"):
        generate_year(cal(type="file", file=path, special_periods=1), 2024)


# --- every type, 20 years -----------------------------------------------------------------

CALENDARS = [
    cal(),
    cal(start_month=4, year_label="start"),
    cal(start_month=7, year_label="end"),
    cal(type="445"),
    cal(type="445", week_rule="nearest", start_month=2, week_end_day="friday"),
    cal(type="454", start_month=10, week_end_day="sunday"),
    cal(type="544", week_rule="nearest", start_month=9, week_end_day="sunday"),
    cal(type="13x4", week_rule="nearest", week_end_day="wednesday"),
    cal(type="13x4", start_month=3, year_label="start"),
]


@pytest.mark.parametrize("c", CALENDARS, ids=lambda c: f"{c.type}-{c.start_month}-{c.week_rule}")
def test_every_calendar_is_contiguous_over_20_years(c: CalendarSettings) -> None:
    """No gaps or overlaps; right period counts and year lengths; every day finds its year."""
    periods = generate_years(c, 2010, 2029)
    assert all(a.end_on + timedelta(days=1) == b.start_on for a, b in pairwise(periods))
    index = PeriodIndex(periods)
    for fy in range(2010, 2030):
        year = [p for p in periods if p.fiscal_year == fy]
        assert [p.period_no for p in year] == list(range(1, len(year) + 1))
        days = (year[-1].end_on - year[0].start_on).days + 1
        if c.type == "months":
            assert len(year) == 12
            assert days in (365, 366)
            assert all(p.start_on.day == 1 for p in year)
        else:
            assert len(year) == (13 if c.type == "13x4" else 12)
            assert days in (364, 371)
            assert year[-1].end_on.strftime("%A").lower() == c.week_end_day
    day = periods[0].start_on
    while day <= periods[-1].end_on:
        key = index.period_for(day)
        assert int(key[:4]) == fiscal_year_of(c, day)
        day += timedelta(days=1)


# --- PeriodIndex --------------------------------------------------------------------------


def test_business_date_is_filed_in_its_own_period() -> None:
    """An evening of October 31st in UTC-6 files in 2025-10 with the default calendar."""
    index = PeriodIndex(generate_year(CalendarSettings(), 2025))
    assert index.period_for(business_date("2025-10-31T19:00:00-06:00")) == "2025-10"


def test_period_index_status_and_lookup() -> None:
    """Status, bounds and first open period come from the rows given."""
    index = PeriodIndex(
        generate_year(cal(special_periods=1), 2025),
        {"2025-01": "closed", "2025-02": "closed"},
        calendar="corp",
    )
    assert len(index) == 13
    assert index.status("2025-01") == "closed"
    assert index.is_closed("2025-02")
    assert not index.is_closed("2025-13")
    assert index.first_open() == "2025-03"
    assert index.bounds("2025-02") == (D(2025, 2, 1), D(2025, 2, 28))
    assert not index.contains("2026-01")
    with pytest.raises(LookupError, match=r"^no fiscal period 2026-01 in calendar corp$"):
        index.status("2026-01")


def test_period_index_first_open_is_none_when_all_closed() -> None:
    """Nothing open, no first open period."""
    periods = generate_year(cal(), 2025)
    assert PeriodIndex(periods, {p.key: "closed" for p in periods}).first_open() is None


def test_period_for_outside_the_calendar() -> None:
    """A day no period covers is a LookupError."""
    index = PeriodIndex(generate_year(cal(), 2025), calendar="corp")
    with pytest.raises(LookupError, match=r"^no fiscal period covers 2026-01-01 in calendar corp$"):
        index.period_for(D(2026, 1, 1))
    with pytest.raises(LookupError):
        index.period_for(D(2024, 12, 31))


def test_period_for_across_a_gap() -> None:
    """A day between two stored years is not filed anywhere."""
    index = PeriodIndex([*generate_year(cal(), 2023), *generate_year(cal(), 2025)])
    assert index.period_for(D(2023, 12, 31)) == "2023-12"
    assert index.period_for(D(2025, 1, 1)) == "2025-01"
    with pytest.raises(LookupError):
        index.period_for(D(2024, 6, 1))


def test_periods_between() -> None:
    """Regular periods overlapping the range, in order, specials left out."""
    index = PeriodIndex(generate_years(cal(special_periods=1), 2024, 2025))
    assert index.periods_between(D(2024, 11, 15), D(2025, 2, 1)) == [
        "2024-11",
        "2024-12",
        "2025-01",
        "2025-02",
    ]
    assert index.periods_between(D(2025, 3, 31), D(2025, 3, 31)) == ["2025-03"]
    assert index.periods_between(D(2020, 1, 1), D(2020, 12, 31)) == []
    with pytest.raises(ValueError, match="before it starts"):
        index.periods_between(D(2025, 2, 1), D(2025, 1, 1))


def test_period_index_refuses_overlaps_and_duplicates() -> None:
    """Overlapping regular periods or a key given twice are refused."""
    a = PeriodSpec(2025, 1, D(2025, 1, 1), D(2025, 1, 31))
    b = PeriodSpec(2025, 2, D(2025, 1, 31), D(2025, 2, 28))
    with pytest.raises(ValueError, match="fiscal periods 2025-01 and 2025-02 overlap"):
        PeriodIndex([a, b])
    with pytest.raises(ValueError, match="fiscal period 2025-01 given twice"):
        PeriodIndex([a, a])


# --- default range ------------------------------------------------------------------------


def test_default_range_is_ten_years_back_five_ahead() -> None:
    """Today's fiscal year -10..+5, as dates."""
    assert default_range(cal(), D(2025, 6, 15)) == (D(2015, 1, 1), D(2030, 12, 31))
    assert default_range(cal(type="445"), D(2025, 6, 15)) == (D(2014, 12, 28), D(2030, 12, 28))


def test_default_range_from_settings() -> None:
    """first_year and last_year win; a reversed pair is refused."""
    c = cal(start_month=4, first_year=2020, last_year=2022)
    assert default_range(c, D(2025, 6, 15)) == (D(2019, 4, 1), D(2022, 3, 31))
    with pytest.raises(ValueError, match="first_year 2023 is after last_year 2022"):
        default_range(cal(first_year=2023, last_year=2022), D(2025, 6, 15))
