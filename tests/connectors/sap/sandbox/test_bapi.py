"""BAPI_PROJECT_GETINFO: a project and its WBS tree, and errors in RETURN, not exceptions."""

from __future__ import annotations

from datetime import date

import pytest

from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.system import SapSystem


def test_project_with_elements_and_hierarchy(conn: fakerfc.Connection) -> None:
    """PRJ-0002: the definition, its three elements and their links by external ID; a
    blank RETURN."""
    answer = conn.call("BAPI_PROJECT_GETINFO", PROJECT_DEFINITION="PRJ-0002")
    assert answer["RETURN"]["TYPE"] == ""
    project = answer["E_PROJECT_DEFINITION"]
    assert (project["DESCRIPTION"], project["PROJECT_CURRENCY"], project["START"]) == (
        "Acme Data Warehouse",
        "EUR",
        "20250203",
    )
    assert [e["WBS_ELEMENT"] for e in answer["E_WBS_ELEMENT_TABLE"]] == [
        "PRJ-0002",
        "PRJ-0002.1",
        "PRJ-0002.2",
    ]
    links = {
        h["WBS_ELEMENT"]: (h["UP"], h["DOWN"], h["LEFT"], h["RIGHT"])
        for h in answer["E_WBS_HIERARCHIE_TABLE"]
    }
    assert links == {
        "PRJ-0002": ("", "PRJ-0002.1", "", ""),
        "PRJ-0002.1": ("PRJ-0002", "", "", "PRJ-0002.2"),
        "PRJ-0002.2": ("PRJ-0002", "", "PRJ-0002.1", ""),
    }


def test_dates_as_date_objects_with_dtime(logon: dict[str, str]) -> None:
    """config dtime=True gives ABAP dates as datetime.date, as pyrfc does."""
    with fakerfc.Connection(config={"dtime": True}, **logon) as conn:
        project = conn.call("BAPI_PROJECT_GETINFO", PROJECT_DEFINITION="PRJ-0006")[
            "E_PROJECT_DEFINITION"
        ]
    assert (project["START"], project["FINISH"]) == (date(2025, 1, 6), date(2025, 3, 28))


def test_errors_come_in_return_not_as_exceptions(
    conn: fakerfc.Connection, system: SapSystem
) -> None:
    """An unknown project, both selections at once and a forced error: the call succeeds and
    RETURN says E with its message; the next call is clean again."""
    unknown = conn.call("BAPI_PROJECT_GETINFO", PROJECT_DEFINITION="PRJ-0999")
    assert {k: unknown["RETURN"][k] for k in ("TYPE", "ID", "NUMBER", "MESSAGE_V1")} == {
        "TYPE": "E",
        "ID": "CJ",
        "NUMBER": "011",
        "MESSAGE_V1": "PRJ-0999",
    }
    assert unknown["E_WBS_ELEMENT_TABLE"] == []
    both = conn.call(
        "BAPI_PROJECT_GETINFO",
        PROJECT_DEFINITION="PRJ-0001",
        I_WBS_ELEMENT_TABLE=[{"WBS_ELEMENT": "PRJ-0001.1"}],
    )
    assert both["RETURN"]["TYPE"] == "E"
    system.switches.return_error = ("A", "CJ", "001", "Project is locked by user PMO_ADMIN")
    forced = conn.call("BAPI_PROJECT_GETINFO", PROJECT_DEFINITION="PRJ-0001")
    assert (forced["RETURN"]["TYPE"], forced["RETURN"]["MESSAGE"]) == (
        "A",
        "Project is locked by user PMO_ADMIN",
    )
    assert conn.call("BAPI_PROJECT_GETINFO", PROJECT_DEFINITION="PRJ-0001")["RETURN"]["TYPE"] == ""


def test_by_wbs_elements(conn: fakerfc.Connection) -> None:
    """I_WBS_ELEMENT_TABLE alone: the elements asked, with their project."""
    answer = conn.call(
        "BAPI_PROJECT_GETINFO", I_WBS_ELEMENT_TABLE=[{"WBS_ELEMENT": "PRJ-0001.1.1"}]
    )
    assert answer["E_PROJECT_DEFINITION"]["PROJECT_DEFINITION"] == "PRJ-0001"
    assert [e["WBS_ELEMENT"] for e in answer["E_WBS_ELEMENT_TABLE"]] == ["PRJ-0001.1.1"]


def test_abap_message_switch(conn: fakerfc.Connection, system: SapSystem) -> None:
    """An ABAP message of type E: ABAPRuntimeError with code 4 and the message's class,
    type and number (pyrfc's RFC_ABAP_MESSAGE)."""
    system.switches.abap_message = ("SR", "E", "006", "Function not supported")
    with pytest.raises(fakerfc.ABAPRuntimeError) as caught:
        conn.call("BAPI_PROJECT_GETINFO", PROJECT_DEFINITION="PRJ-0001")
    error = caught.value
    assert (error.code, error.key, error.message) == (
        4,
        "Function not supported",
        "Function not supported",
    )
    assert (error.msg_class, error.msg_type, error.msg_number) == ("SR", "E", "006")
