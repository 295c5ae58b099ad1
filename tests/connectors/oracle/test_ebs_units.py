"""The EBS flavor's pure parts: settings, rows -> records, the database's zone, driver errors
as the contract's, statements with bind variables only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError
from sqlalchemy import exc
from sqlalchemy.dialects import oracle

from pmo_ledger.connectors.base import ConnectorContext
from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorTransientError,
    SourceError,
)
from pmo_ledger.connectors.oracle.ebs import normalize as n
from pmo_ledger.connectors.oracle.ebs.reader import EbsReader
from pmo_ledger.connectors.oracle.ebs.source import translated
from pmo_ledger.connectors.oracle.sandbox.seed import ebs_date
from pmo_ledger.connectors.oracle.settings import OracleSettings

URL = "oracle+oracledb://apps_ro@ebs.example.com:1521/?service_name=EBS"
LA = ZoneInfo("America/Los_Angeles")


def line(**over: Any) -> dict[str, Any]:
    row = {"EXPENDITURE_ITEM_ID": 101, "LINE_NUM": 2, "LINE_NUM_REVERSED": 1,
           "AMOUNT": Decimal("-130.00"), "BURDENED_COST": Decimal("-162.50"),
           "PROJECT_RAW_COST": Decimal("-100.00"), "PROJECT_BURDENED_COST": Decimal("-125.00"),
           "ACCT_RAW_COST": Decimal("-130.00"), "ACCT_BURDENED_COST": Decimal("-162.50"),
           "QUANTITY": Decimal("-2"), "ACCT_CURRENCY_CODE": "USD", "PROJFUNC_CURRENCY_CODE": "USD",
           "PROJECT_CURRENCY_CODE": "GBP", "GL_DATE": ebs_date(2025, 3, 31),
           "LAST_UPDATE_DATE": ebs_date(2025, 4, 1, 17, 30), "TASK_ID": 5001,
           "EXPENDITURE_TYPE": "Professional", "SYSTEM_LINKAGE_FUNCTION": "ST",
           "EXPENDITURE_ITEM_DATE": ebs_date(2025, 3, 3), "UNIT_OF_MEASURE": "HOURS",
           "ADJUSTED_EXPENDITURE_ITEM_ID": None, "SEGMENT1": "PRJ-0002"}  # fmt: skip
    return {**row, **over}


def test_a_reversing_labor_line_is_negative_money_and_hours_in_project_currency() -> None:
    r = n.actual_record(line(), LA, burdened=False, base_currency="USD")
    assert (r.external_id, r.project_ref, r.task_ref) == ("101/2", "PRJ-0002", "5001")
    assert (r.amount, r.currency, r.base_amount) == (Decimal("-100.0000"), "GBP",
                                                     Decimal("-130.0000"))  # fmt: skip
    assert (r.hours, r.quantity, r.cost_type) == (Decimal("-2.0000"), None, "labor")
    assert r.posted_on == date(2025, 3, 31)
    assert r.source_modified_at == datetime(2025, 4, 2, 0, 30, tzinfo=UTC)  # PDT is UTC-7
    assert r.description == "Professional, reverses line 1"


def test_burdened_cost_and_a_functional_currency_that_is_not_the_base() -> None:
    r = n.actual_record(line(ACCT_CURRENCY_CODE="EUR", PROJFUNC_CURRENCY_CODE="EUR"), LA,
                        burdened=True, base_currency="USD")  # fmt: skip
    assert (r.amount, r.base_amount) == (Decimal("-125.0000"), None)


def test_quantities_of_other_items_are_no_hours() -> None:
    r = n.actual_record(
        line(SYSTEM_LINKAGE_FUNCTION="ER", EXPENDITURE_TYPE="Mileage", UNIT_OF_MEASURE="MILES",
             QUANTITY=Decimal("42")), LA, burdened=False, base_currency=None,
    )  # fmt: skip
    assert (r.hours, r.quantity, r.uom, r.cost_type) == (None, Decimal("42.0000"), "MILES",
                                                         "mileage")  # fmt: skip
    overtime = n.actual_record(line(SYSTEM_LINKAGE_FUNCTION="OT"), LA, burdened=False,
                               base_currency=None)  # fmt: skip
    assert overtime.hours == Decimal("-2.0000")


def test_a_float_from_an_sqlite_copy_is_read_exactly() -> None:
    assert n.number({"X": 0.1 + 0.2}, "X") == Decimal("0.3000")


@pytest.mark.parametrize(
    ("over", "message"),
    [({"PROJECT_CURRENCY_CODE": None}, "PROJECT_CURRENCY_CODE"),
     ({"PROJECT_RAW_COST": "abc"}, "PROJECT_RAW_COST is not a number"),
     ({"GL_DATE": None, "EXPENDITURE_ITEM_DATE": None}, "GL_DATE")],
)  # fmt: skip
def test_a_line_that_cannot_be_read_names_the_column(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        n.actual_record(line(**over), LA, burdened=False, base_currency=None)


def test_the_cursor_is_compared_in_the_database_zone() -> None:
    assert n.local(datetime(2025, 1, 10, 8, tzinfo=UTC), LA) == ebs_date(2025, 1, 10, 0)


def test_settings_need_a_url_for_ebs_and_a_fusion_table_for_fusion() -> None:
    with pytest.raises(ValidationError, match="needs url"):
        OracleSettings.model_validate({})
    with pytest.raises(ValidationError, match=r"needs \[connectors.<name>.fusion\]"):
        OracleSettings.model_validate({"flavor": "fusion"})
    fusion = {"base_url": "https://pod.example.com", "username": "u", "password": "p"}
    with pytest.raises(ValidationError, match="read with flavor = \"fusion\" only"):
        OracleSettings.model_validate({"url": URL, "fusion": fusion})
    with pytest.raises(ValidationError, match='schema, url: keys of flavor "ebs"'):
        OracleSettings.model_validate({"flavor": "fusion", "url": URL, "schema": "X",
                                       "fusion": fusion})  # fmt: skip
    s = OracleSettings.model_validate({"url": URL, "password": "secret"})
    assert (s.schema_name, s.db_timezone, s.cost, s.arraysize) == ("APPS", "UTC", "raw", 5000)
    assert "secret" not in repr(s)


@pytest.mark.parametrize(
    ("settings", "message"),
    [({"schema": "APPS; DROP"}, "schema name"), ({"db_timezone": "Mars/Base"}, "time zone"),
     ({"base_currency": "usd"}, "currency code"), ({"cost": "full"}, "raw")],
)  # fmt: skip
def test_bad_keys_are_refused_by_name(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OracleSettings.model_validate({"url": URL, **settings})


def _error(text: str, kind: type[exc.DBAPIError] = exc.DatabaseError) -> exc.DBAPIError:
    return kind("SELECT 1", {}, Exception(text))


@pytest.mark.parametrize(
    ("error", "expected", "words"),
    [(_error("ORA-01017: invalid username/password; logon denied"), ConnectorConfigError,
      "connectors.ebs.password"),
     (_error("ORA-00942: table or view does not exist"), ConnectorConfigError, "grant SELECT"),
     (_error("DPY-6005: cannot connect to database", exc.OperationalError),
      ConnectorTransientError, "DPY-6005"),
     (_error("ORA-03113: end-of-file on communication channel"), ConnectorTransientError,
      "ORA-03113"),
     (_error("no such table: APPS.PA_TASKS", exc.OperationalError), ConnectorConfigError,
      "connectors.ebs.schema"),
     (_error("ORA-01722: invalid number"), SourceError, "ORA-01722")],
)  # fmt: skip
def test_driver_errors_become_the_contracts(
    error: exc.DBAPIError, expected: type[Exception], words: str
) -> None:
    got = translated("ebs", "ebs.actuals", error)
    assert type(got) is expected
    assert words in str(got)


def test_statements_carry_bind_variables_never_values() -> None:
    """The cursor, the flags and the operating units travel as binds on Oracle."""
    settings = OracleSettings.model_validate({"url": URL, "org_ids": [204], "fx_rate_type": "Corporate"})
    reader = EbsReader(settings, ConnectorContext("ebs"))
    since = datetime(2025, 1, 1, tzinfo=UTC)
    for statement in (reader.actuals_statement(since), reader.versions_statement(since),
                      reader.rates_statement(since), reader.projects_statement(since)):  # fmt: skip
        sql = str(statement.compile(dialect=oracle.dialect()))
        assert "'" not in sql and "2025" not in sql and "204" not in sql
        assert ":" in sql
    sql = str(reader.actuals_statement(since).compile(dialect=oracle.dialect()))
    assert '"PA_COST_DISTRIBUTION_LINES_ALL"."LAST_UPDATE_DATE" >= :' in sql
    assert sql.rstrip().endswith('"PA_COST_DISTRIBUTION_LINES_ALL"."EXPENDITURE_ITEM_ID", '
                                 '"PA_COST_DISTRIBUTION_LINES_ALL"."LINE_NUM"')  # fmt: skip


def test_on_oracle_names_are_ebss_upper_case_names_and_the_schema_a_placeholder() -> None:
    """Quoted upper case is what Oracle's unquoted names fold to; the schema is put in front
    of every table at execution (the engine's schema_translate_map)."""
    settings = OracleSettings.model_validate({"url": URL})
    reader = EbsReader(settings, ConnectorContext("ebs"))
    sql = str(reader.projects_statement(None).compile(
        dialect=oracle.dialect(), schema_translate_map={None: "APPS"}))  # fmt: skip
    assert 'FROM __[SCHEMA__none]."PA_PROJECTS_ALL"' in sql
    assert '"PA_PROJECTS_ALL"."TEMPLATE_FLAG", :coalesce_1) != :coalesce_2' in sql


def test_an_unreachable_ebs_is_a_transient_error_from_python_oracledb_thin_mode() -> None:
    """A real thin-mode connection attempt to a closed port on this machine."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = OracleSettings.model_validate(
        {"url": f"oracle+oracledb://apps_ro@127.0.0.1:{port}/?service_name=EBS",
         "password": "secret"}
    )  # fmt: skip
    reader = EbsReader(settings, ConnectorContext("ebs", connect_timeout=timedelta(seconds=2)))
    with pytest.raises(ConnectorTransientError, match="DPY-6005") as caught:
        reader.check()
    assert "secret" not in str(caught.value)
    reader.close()
