"""The fiscal calendar (rule 10): periods generated from `[ledger.calendar]`, kept in fiscal_period.

A period is named 'YYYY-PP' (fiscal year, period number). Calendar types:

- `months`: 12 calendar months from `start_month`.
- `445`, `454`, `544`: 12 periods in 4/4/5-week quarters, 52 weeks; a 53rd week goes to period 12.
- `13x4`: 13 periods of 4 weeks; a 53rd week goes to period 13.
- `file`: a CSV with fiscal_year,period_no,start_on,end_on (regular periods only).

`start_month` is the month a fiscal year starts in, for every type, so the year-end month is the
month before it (December when it is 1). A week-based year ends on `week_end_day`: the last such
weekday of the year-end month (`week_rule = "last"`) or the one nearest its last day
(`"nearest"`, possibly a few days into the next month). Each year starts the day after the one
before ends, so week-based years are 364 or 371 days long. A year is labelled with the calendar
year its (nominal) year-end month falls in (`year_label = "end"`) or its start month does.

SAP special periods 13..12+special_periods follow a 12-period year; each is the single day the
year ends, flagged `special`: no posting is ever filed there by date, only a source stating one.
"""

from __future__ import annotations

import calendar as _stdlib_calendar
import csv
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

from pmo_ledger.ledger.settings import CalendarSettings

MAX_PERIOD_NO = 16
FILE_HEADER = ("fiscal_year", "period_no", "start_on", "end_on")
#: Weeks per regular period for the week-based calendar types.
WEEK_PATTERNS: dict[str, tuple[int, ...]] = {
    "445": (4, 4, 5) * 4,
    "454": (4, 5, 4) * 4,
    "544": (5, 4, 4) * 4,
    "13x4": (4,) * 13,
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEK = timedelta(days=7)
_DAY = timedelta(days=1)
_PERIOD = re.compile(r"(?!0000)([0-9]{4})-(0[1-9]|1[0-6])")


def period_key(fiscal_year: int, period_no: int) -> str:
    """'YYYY-PP' for a fiscal year and period number (1-16). Raises ValueError out of range."""
    if not 1 <= fiscal_year <= 9999 or not 1 <= period_no <= MAX_PERIOD_NO:
        raise ValueError(f"no period {period_no} of fiscal year {fiscal_year}")
    return f"{fiscal_year:04d}-{period_no:02d}"


def parse_period(text: str) -> tuple[int, int]:
    """'2025-03' -> (2025, 3). Raises ValueError unless it is 'YYYY-PP' with PP 01-16."""
    m = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"expected a period like 2025-03, got {text!r}")
    return int(m[1]), int(m[2])


@dataclass(frozen=True)
class PeriodSpec:
    """One fiscal period: inclusive dates; `special` for SAP periods 13-16."""

    fiscal_year: int
    period_no: int
    start_on: date
    end_on: date
    special: bool = False

    @property
    def key(self) -> str:
        """'YYYY-PP'."""
        return period_key(self.fiscal_year, self.period_no)


# --- year arithmetic ----------------------------------------------------------------------


def _end_month(cal: CalendarSettings) -> int:
    return 12 if cal.start_month == 1 else cal.start_month - 1


def _end_year(cal: CalendarSettings, fiscal_year: int) -> int:
    """Calendar year of the fiscal year's year-end month."""
    if cal.start_month == 1 or cal.year_label == "end":
        return fiscal_year
    return fiscal_year + 1


def _fiscal_year(cal: CalendarSettings, end_year: int) -> int:
    """Inverse of `_end_year`."""
    if cal.start_month == 1 or cal.year_label == "end":
        return end_year
    return end_year - 1


def _year_end(cal: CalendarSettings, fiscal_year: int) -> date:
    """Last day of a generated (not file) fiscal year."""
    year, month = _end_year(cal, fiscal_year), _end_month(cal)
    last = date(year, month, _stdlib_calendar.monthrange(year, month)[1])
    if cal.type == "months":
        return last
    back = (last.weekday() - _WEEKDAYS.index(cal.week_end_day)) % 7  # days back to that weekday
    if cal.week_rule == "nearest" and back > 3:
        return last + timedelta(days=7 - back)
    return last - timedelta(days=back)


def read_calendar_file(path: Path) -> dict[int, list[PeriodSpec]]:
    """Regular periods per fiscal year from a calendar CSV (header fiscal_year,period_no,start_on,
    end_on; ISO dates). Raises ValueError listing every bad line ('file:line: why'): bad values,
    duplicates, overlaps, gaps, periods not numbered 1, 2, ... in date order within a year."""
    errors: list[str] = []
    rows: list[tuple[int, PeriodSpec]] = []
    seen: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = tuple(cell.strip().lower() for cell in next(reader, []))
        if header != FILE_HEADER:
            raise ValueError(f"{path}:1: expected the header {','.join(FILE_HEADER)}, got {header}")
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            try:
                if len(row) != 4:
                    raise ValueError(f"expected 4 columns, got {len(row)}")
                fy, no = int(row[0]), int(row[1])
                key = period_key(fy, no)  # validates the year and period number
                start, end = date.fromisoformat(row[2].strip()), date.fromisoformat(row[3].strip())
                if end < start:
                    raise ValueError(f"period {key} ends ({end}) before it starts ({start})")
                if key in seen:
                    raise ValueError(f"period {key} is already on line {seen[key]}")
            except ValueError as exc:
                errors.append(f"{path}:{reader.line_num}: {exc}")
            else:
                seen[key] = reader.line_num
                rows.append((reader.line_num, PeriodSpec(fy, no, start, end)))
    if not rows and not errors:
        errors.append(f"{path}: no periods")
    rows.sort(key=lambda r: (r[1].start_on, r[1].end_on))
    for (_, a), (line, b) in pairwise(rows):
        where = f"{path}:{line}: period {b.key} ({b.start_on}..{b.end_on})"
        if b.start_on <= a.end_on:
            errors.append(f"{where} overlaps {a.key} ({a.start_on}..{a.end_on})")
        elif b.start_on != a.end_on + _DAY:
            errors.append(f"{where} leaves a gap after {a.key}, which ends {a.end_on}")
        elif (b.fiscal_year, b.period_no) not in (
            (a.fiscal_year, a.period_no + 1),
            (a.fiscal_year + 1, 1),
        ):
            errors.append(f"{where} does not follow {a.key}")
    if rows and rows[0][1].period_no != 1:
        line, first = rows[0]
        errors.append(f"{path}:{line}: the first period {first.key} is not period 01")
    if errors:
        raise ValueError("bad calendar file:\n" + "\n".join(errors))
    years: dict[int, list[PeriodSpec]] = {}
    for _, spec in rows:
        years.setdefault(spec.fiscal_year, []).append(spec)
    return years


def _file_years(cal: CalendarSettings) -> dict[int, list[PeriodSpec]] | None:
    if cal.type != "file":
        return None
    assert cal.file is not None  # validated by CalendarSettings
    return read_calendar_file(cal.file)


def _file_year(
    cal: CalendarSettings, years: Mapping[int, list[PeriodSpec]], fy: int
) -> list[PeriodSpec]:
    if fy not in years:
        raise LookupError(f"fiscal year {fy} is not in the calendar file {cal.file}")
    return years[fy]


def _bounds(
    cal: CalendarSettings, fy: int, years: Mapping[int, list[PeriodSpec]] | None
) -> tuple[date, date]:
    if years is not None:
        regular = _file_year(cal, years, fy)
        return regular[0].start_on, regular[-1].end_on
    return _year_end(cal, fy - 1) + _DAY, _year_end(cal, fy)


def year_bounds(cal: CalendarSettings, fiscal_year: int) -> tuple[date, date]:
    """First and last day of a fiscal year. Raises LookupError for a year a file does not have."""
    return _bounds(cal, fiscal_year, _file_years(cal))


def fiscal_year_of(cal: CalendarSettings, d: date) -> int:
    """The fiscal year `d` falls in. Raises LookupError when a calendar file does not cover it."""
    years = _file_years(cal)
    if years is not None:
        for fy, regular in years.items():
            if regular[0].start_on <= d <= regular[-1].end_on:
                return fy
        raise LookupError(f"{d} is not in the calendar file {cal.file}")
    fy = _fiscal_year(cal, d.year if d.month <= _end_month(cal) else d.year + 1)
    # A week-based year can end up to 6 days before or 3 days after its month ends.
    if d > _year_end(cal, fy):
        return fy + 1
    if d <= _year_end(cal, fy - 1):
        return fy - 1
    return fy


# --- generation ---------------------------------------------------------------------------


def _regular(
    cal: CalendarSettings, fy: int, years: Mapping[int, list[PeriodSpec]] | None
) -> list[PeriodSpec]:
    if years is not None:
        return _file_year(cal, years, fy)
    start, end = _bounds(cal, fy, None)
    periods: list[PeriodSpec] = []
    if cal.type == "months":
        for i in range(12):
            month0 = start.month - 1 + i
            first = date(start.year + month0 // 12, month0 % 12 + 1, 1)
            last = first.replace(day=_stdlib_calendar.monthrange(first.year, first.month)[1])
            periods.append(PeriodSpec(fy, i + 1, first, last))
        return periods
    pattern = WEEK_PATTERNS[cal.type]
    for i, weeks in enumerate(pattern):
        last = start + weeks * _WEEK - _DAY
        if i == len(pattern) - 1:
            last = end  # the 53rd week, when there is one
        periods.append(PeriodSpec(fy, i + 1, start, last))
        start = last + _DAY
    return periods


def _year(
    cal: CalendarSettings, fy: int, years: Mapping[int, list[PeriodSpec]] | None
) -> list[PeriodSpec]:
    regular = _regular(cal, fy, years)
    if cal.special_periods and len(regular) != 12:
        raise ValueError(
            f"special periods only follow 12-period years; fiscal year {fy} has {len(regular)}"
        )
    last_day = regular[-1].end_on
    specials = [
        PeriodSpec(fy, 13 + i, last_day, last_day, True) for i in range(cal.special_periods)
    ]
    return [*regular, *specials]


def generate_year(cal: CalendarSettings, fiscal_year: int) -> list[PeriodSpec]:
    """Every period of a fiscal year, regular then special, in order.

    Raises LookupError for a year a calendar file does not have, ValueError for a bad file.
    """
    return _year(cal, fiscal_year, _file_years(cal))


def generate_years(cal: CalendarSettings, first_year: int, last_year: int) -> list[PeriodSpec]:
    """`generate_year` for first_year..last_year inclusive (a calendar file is read once)."""
    years = _file_years(cal)
    return [p for fy in range(first_year, last_year + 1) for p in _year(cal, fy, years)]


def default_range(cal: CalendarSettings, today: date) -> tuple[date, date]:
    """Dates the stored calendar covers: first_year..last_year from the settings, else today's
    fiscal year -10..+5 (a file: its own years). Raises ValueError when first_year > last_year."""
    years = _file_years(cal)
    if years is not None:
        low, high = min(years), max(years)
    else:
        current = fiscal_year_of(cal, today)
        low, high = current - 10, current + 5
    first = low if cal.first_year is None else cal.first_year
    last = high if cal.last_year is None else cal.last_year
    if first > last:
        raise ValueError(f"calendar first_year {first} is after last_year {last}")
    return _bounds(cal, first, years)[0], _bounds(cal, last, years)[1]


def periods_overlapping(cal: CalendarSettings, start: date, end: date) -> list[PeriodSpec]:
    """Every period of the fiscal years that overlap start..end (a calendar file: only the
    years it has). Raises ValueError for a reversed range."""
    if end < start:
        raise ValueError(f"range ends ({end}) before it starts ({start})")
    years = _file_years(cal)
    if years is not None:
        wanted = [fy for fy, r in years.items() if r[0].start_on <= end and r[-1].end_on >= start]
    else:
        wanted = list(range(fiscal_year_of(cal, start), fiscal_year_of(cal, end) + 1))
    return [p for fy in wanted for p in _year(cal, fy, years)]
