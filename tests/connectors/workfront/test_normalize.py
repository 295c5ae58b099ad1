"""Workfront rows -> records, from small rows shaped like the API's (Decimal numbers, dates
with a colon before the milliseconds): units, business dates, what counts, what is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from pmo_ledger.connectors.workfront import normalize as n
from pmo_ledger.connectors.workfront.settings import WorkfrontSettings
from pmo_ledger.ledger.records import ActualRecord

SETTINGS = WorkfrontSettings(base_url="https://acme.my.workfront.com", api_key="k")
AT = n.Lookups(
    SETTINGS,
    currencies={"p1": "EUR", "p2": None},
    portfolios={"port1": "Growth"},
    programs={"prg1": "Cloud"},
    tasks={
        "t1": n.TaskDates("p1", date(2025, 1, 20), date(2025, 3, 14)),
        "t2": n.TaskDates("p2", date(2025, 2, 3), date(2025, 2, 7)),
    },
)


def hour_row(**fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ID": "h1", "objCode": "HOUR", "hours": Decimal("7.5"),
        "entryDate": "2025-03-03T00:00:00:000-0500", "projectID": "p1", "taskID": "t1",
        "ownerID": "u1", "roleID": "r1", "status": "APP", "actualCost": Decimal("600.25"),
        "lastUpdateDate": "2025-03-04T10:15:02:117-0500",
    }  # fmt: skip
    row.update(fields)
    return row


def test_an_approved_hour_is_a_labor_line_in_its_projects_currency() -> None:
    """Hours, actualCost, the date as stated, UTC change time, the project's currency."""
    record = n.hour(hour_row(), AT)
    assert isinstance(record, ActualRecord)
    assert (record.external_id, record.project_ref, record.task_ref) == ("h1", "p1", "t1")
    assert (record.hours, record.amount, record.currency) == (
        Decimal("7.5"), Decimal("600.25"), "EUR",
    )  # fmt: skip
    assert (record.cost_type, record.resource_ref, record.role) == ("labor", "u1", "r1")
    assert record.posted_on == date(2025, 3, 3)
    assert record.source_modified_at == datetime(2025, 3, 4, 15, 15, 2, 117000, tzinfo=UTC)
    assert record.source_url == "https://acme.my.workfront.com/hour/h1"


def test_an_hour_late_in_the_evening_keeps_the_date_it_states() -> None:
    """23:30 at -0600 is already the next day in UTC; the work date stays the stated one."""
    record = n.hour(hour_row(entryDate="2025-10-31T23:30:00:000-0600"), AT)
    assert record is not None and record.posted_on == date(2025, 10, 31)


def test_an_hour_without_cost_is_left_for_the_ledger_to_value() -> None:
    """No actualCost: amount None, so the ledger values the hours at the dated rate."""
    record = n.hour(hour_row(actualCost=None), AT)
    assert record is not None and record.amount is None and record.hours == Decimal("7.5")


def test_hours_outside_the_counting_statuses_are_deletions() -> None:
    """Submitted (SUB) does not count by default; with hour_statuses = [APP, SUB] it does."""
    assert n.hour(hour_row(status="SUB"), AT) is None
    wide = n.Lookups(SETTINGS.model_copy(update={"hour_statuses": ["APP", "SUB"]}))
    assert n.hour(hour_row(status="SUB"), wide) is not None


def test_a_null_currency_and_a_missing_project_take_the_default_currency() -> None:
    """A project with a null currency, and an hour with no project: default_currency."""
    assert n.hour(hour_row(projectID="p2"), AT).currency == "USD"  # type: ignore[union-attr]
    orphan = n.hour(hour_row(projectID=None), AT)
    assert orphan is not None and (orphan.project_ref, orphan.currency) == (None, "USD")


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"entryDate": None}, "entryDate is empty"),
        ({"entryDate": "03/03/2025"}, "entryDate is not a date"),
        ({"hours": "seven"}, "hours is not a number"),
        ({"actualCost": Decimal("1.00001")}, "actualCost has more than 4 decimal places"),
        ({"ID": None}, "no ID"),
    ],
)
def test_unreadable_hours_are_refused_with_the_field(fields: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        n.hour(hour_row(**fields), AT)


def test_an_expense_is_its_actual_amount_on_its_effective_date() -> None:
    row = {
        "ID": "e1", "actualAmount": Decimal("120.40"), "effectiveDate": "2025-03-12T00:00:00:000-0500",
        "projectID": "p1", "lastUpdateDate": "2025-03-12T09:00:00:000-0500",
    }  # fmt: skip
    record = n.expense(row, AT)
    assert (record.amount, record.currency, record.posted_on, record.cost_type) == (
        Decimal("120.40"), "EUR", date(2025, 3, 12), "expense",
    )  # fmt: skip
    assert record.hours is None


def test_a_project_with_its_hierarchy_dates_and_currency() -> None:
    row = {
        "ID": "p2", "name": "Data platform", "referenceNumber": 1042, "status": "CUR",
        "currency": None, "portfolioID": "port1", "programID": "prg1",
        "plannedStartDate": "2025-01-06T08:00:00:000-0600",
        "plannedCompletionDate": "2025-12-19T17:00:00:000-0600",
        "percentComplete": Decimal("37.5"), "lastUpdateDate": "2025-03-04T10:15:02:117-0600",
    }  # fmt: skip
    record = n.project(row, AT)
    assert (record.code, record.name, record.currency) == ("1042", "Data platform", "USD")
    assert (record.portfolio_name, record.program_name) == ("Growth", "Cloud")
    assert (record.planned_start, record.planned_finish) == (date(2025, 1, 6), date(2025, 12, 19))
    assert record.percent_complete == Decimal("37.5")


def test_a_budget_is_the_projects_current_version_and_none_without_one() -> None:
    row = {"ID": "p1", "budget": Decimal("50000"), "currency": "EUR",
           "plannedStartDate": "2025-01-06T08:00:00:000-0600"}  # fmt: skip
    record = n.budget(row, AT)
    assert record is not None and (record.external_id, record.kind) == ("p1/current", "current")
    assert [(line.amount, line.currency) for line in record.lines] == [(Decimal("50000"), "EUR")]
    assert record.effective_from == date(2025, 1, 6)
    assert n.budget({"ID": "p1", "budget": None}, AT) is None


def test_a_task_has_work_in_hours_and_duration_in_days_from_minutes() -> None:
    """workRequired 2400 min = 40 h; durationMinutes 2400 = 5 days of 8 h."""
    row = {
        "ID": "t1", "name": "Design", "projectID": "p1", "parentID": "t0", "wbs": "1.2",
        "workRequired": 2400, "durationMinutes": 2400, "percentComplete": 50,
        "plannedStartDate": "2025-01-20T08:00:00:000-0600",
    }  # fmt: skip
    record = n.task(row, AT)
    assert (record.effort_hours, record.most_likely_days) == (Decimal("40.0000"), Decimal(5))
    assert (record.parent_ref, record.wbs_code, record.percent_complete) == ("t0", "1.2", 50)


def test_predecessors_map_their_types_and_refuse_scheduled_start() -> None:
    row = {"ID": "d1", "predecessorID": "t1", "successorID": "t2",
           "predecessorType": "ss", "lagDays": Decimal("2")}  # fmt: skip
    record = n.dependency(row, AT)
    assert (record.dependency_type, record.lag_days) == ("SS", Decimal(2))
    assert n.crosses_projects(row, AT)  # t1 is in p1, t2 in p2
    with pytest.raises(ValueError, match="'sd' has no ledger equivalent"):
        n.dependency({**row, "predecessorType": "sd"}, AT)


def test_an_assignment_spreads_its_minutes_over_its_tasks_periods() -> None:
    """6000 min = 100 h over 2025-01-20..2025-03-14 (12 + 28 + 14 days of 54): 22.22 in
    January, 51.85 in February, the rest (25.93) in March."""
    row = {"ID": "a1", "taskID": "t1", "assignedToID": "u1", "workRequired": 6000}
    out = n.assignment(row, AT)
    assert [(r.period, r.planned_hours) for r in out] == [
        ("2025-01", Decimal("22.22")), ("2025-02", Decimal("51.85")), ("2025-03", Decimal("25.93")),
    ]  # fmt: skip
    assert sum(r.planned_hours for r in out) == Decimal(100)
    assert {r.project_ref for r in out} == {"p1"}


def test_user_and_role_rates_are_keyed_apart() -> None:
    user = n.rate({"ID": "u1", "costPerHour": Decimal("80")}, AT, "USER")
    role = n.rate({"ID": "r1", "costPerHour": Decimal("65.5")}, AT, "ROLE")
    assert user is not None and (user.external_id, user.resource_ref, user.role) == (
        "USER/u1", "u1", None,
    )  # fmt: skip
    assert role is not None and (role.external_id, role.role, role.cost_rate) == (
        "ROLE/r1", "r1", Decimal("65.5"),
    )  # fmt: skip
    assert n.rate({"ID": "u2", "costPerHour": None}, AT, "USER") is None


def test_three_point_durations_come_from_the_custom_fields_configured() -> None:
    """optimistic_field / pessimistic_field name custom fields in days; unset, none is read."""
    row = {"ID": "t1", "projectID": "p1", "durationMinutes": 4800,
           "DE:Optimistic Duration": Decimal("7.5"), "DE:Pessimistic Duration": 16}  # fmt: skip
    three = n.Lookups(SETTINGS.model_copy(update={
        "optimistic_field": "DE:Optimistic Duration",
        "pessimistic_field": "DE:Pessimistic Duration"}))  # fmt: skip
    record = n.task(row, three)
    assert (record.optimistic_days, record.most_likely_days, record.pessimistic_days) == (
        Decimal("7.5"), Decimal(10), Decimal(16),
    )  # fmt: skip
    plain = n.task(row, AT)
    assert (plain.optimistic_days, plain.pessimistic_days) == (None, None)


def test_float_tails_on_money_and_hours_are_rounding_noise_at_the_ledgers_scale() -> None:
    """A store of doubles prints 121.00000000000001 and 7.499999999999999: the values at
    scale, half-up; a genuinely over-precise amount is still refused (as Salesforce's is)."""
    record = n.hour(
        hour_row(actualCost=Decimal("121.00000000000001"), hours=Decimal("7.499999999999999")),
        AT,
    )
    assert record is not None and (record.amount, record.hours) == (
        Decimal("121.0000"), Decimal("7.5000"),
    )  # fmt: skip
    with pytest.raises(ValueError, match="actualCost has more than 4 decimal places"):
        n.hour(hour_row(actualCost=Decimal("121.00005")), AT)


def test_computed_percentages_durations_and_lags_are_rounded_half_up() -> None:
    """percentComplete 33.333333333333336 (1 of 3 tasks done), durationMinutes with a float
    tail, lagDays 1.33333: rounded to the ledger's 4 places, not refused."""
    row = {
        "ID": "t1", "name": "Design", "projectID": "p1", "durationMinutes": Decimal("1000.00005"),
        "percentComplete": Decimal("33.333333333333336"), "workRequired": Decimal("100.000005"),
        "plannedStartDate": "2025-01-20T08:00:00:000-0600",
    }  # fmt: skip
    task = n.task(row, AT)
    assert task.percent_complete == Decimal("33.3333")
    assert task.most_likely_days == Decimal("2.0833")  # 1000.0001 min / 480
    assert task.effort_hours == Decimal("1.6667")
    project = n.project({"ID": "p1", "percentComplete": Decimal("66.66666666666667")}, AT)
    assert project.percent_complete == Decimal("66.6667")
    link = n.dependency(
        {"ID": "d1", "predecessorID": "t1", "successorID": "t2", "lagDays": Decimal("1.33333")},
        AT,
    )
    assert link.lag_days == Decimal("1.3333")


@pytest.mark.parametrize(
    ("lag_type", "lag", "days"),
    [
        ("d", "3", Decimal(3)),  # working days as stated
        (None, "2", Decimal(2)),
        ("e", "7", Decimal(5)),  # a calendar week is 5 working days
        ("E", "3", Decimal("2.1429")),
        ("p", "50", Decimal("2.5")),  # half of t1's 5 working days
        ("pe", "20", Decimal(1)),
    ],
)
def test_lags_are_working_days_whatever_their_lag_type(
    lag_type: str | None, lag: str, days: Decimal
) -> None:
    at = n.Lookups(SETTINGS, tasks={"t1": n.TaskDates("p1", None, None, Decimal(5))})
    row = {"ID": "d1", "predecessorID": "t1", "successorID": "t2", "lagDays": Decimal(lag),
           "lagType": lag_type}  # fmt: skip
    assert n.dependency(row, at).lag_days == days


def test_a_percent_lag_without_the_predecessors_duration_is_refused_with_a_reason() -> None:
    row = {"ID": "d1", "predecessorID": "t9", "successorID": "t2", "lagDays": Decimal(50),
           "lagType": "p"}  # fmt: skip
    with pytest.raises(ValueError, match="50% of predecessor t9's duration, which is not known"):
        n.dependency(row, AT)
    with pytest.raises(ValueError, match="lagType 'zz' is not a lag type"):
        n.dependency({**row, "lagType": "zz"}, AT)


@pytest.mark.parametrize(
    "code,condition",
    [("ON", "on_target"), ("AR", "at_risk"), ("IT", "in_trouble"), ("XY", "XY"), (None, None),
     ("", None)],
)  # fmt: skip
def test_a_projects_condition_is_the_ledgers_word_or_the_code_as_sent(
    code: str | None, condition: str | None
) -> None:
    assert n.project({"ID": "p1", "condition": code}, AT).condition == condition
