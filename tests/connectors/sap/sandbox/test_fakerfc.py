"""The fake pyrfc module: logon, calls and pyrfc's errors, with pyrfc's names and shapes."""

from __future__ import annotations

import pytest

from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.seed import USER, seed_demo
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from tests.connectors.sap.sandbox.conftest import read


def test_logon_by_application_server_destination_and_message_server(logon: dict[str, str]) -> None:
    """ashost/sysnr, dest alone and mshost/sysid/group reach the same system."""
    credentials = {k: logon[k] for k in ("client", "user", "passwd")}
    for params in (
        logon,
        {"dest": "PMO", **credentials},
        {"mshost": "ms.sap-fake.test", "sysid": "PMO", "group": "PUBLIC", **credentials},
    ):
        with fakerfc.Connection(**params) as conn:
            assert conn.alive
            assert conn.get_connection_attributes()["sysId"] == "PMO"
            conn.ping()
        assert not conn.alive


def test_wrong_password_is_a_logon_error_with_pyrfc_attributes(logon: dict[str, str]) -> None:
    """A bad password: LogonError, code 2, key RFC_LOGON_FAILURE, SAP's message."""
    with pytest.raises(fakerfc.LogonError) as caught:
        fakerfc.Connection(**{**logon, "passwd": "wrong"})
    assert caught.value.code == 2
    assert caught.value.key == "RFC_LOGON_FAILURE"
    assert caught.value.message == "Name or password is incorrect (repeat logon)"
    assert isinstance(caught.value, fakerfc.RFCError)


def test_unknown_client_and_refused_logon(logon: dict[str, str], system: SapSystem) -> None:
    """A client without the user is a LogonError; so is every logon while refused."""
    with pytest.raises(fakerfc.LogonError, match="Client 200 is not available"):
        fakerfc.Connection(**{**logon, "client": "200"})
    system.switches.logon_refused = True
    with pytest.raises(fakerfc.LogonError):
        fakerfc.Connection(**logon)


def test_bad_connection_parameters(logon: dict[str, str]) -> None:
    """No parameters, a non-string value, no host, an unreachable host: pyrfc's errors."""
    with pytest.raises(fakerfc.RFCError, match="Connection parameters missing"):
        fakerfc.Connection()
    with pytest.raises(fakerfc.RFCError, match="'sysnr' value is not string"):
        fakerfc.Connection(**{**logon, "sysnr": 0})
    with pytest.raises(fakerfc.ExternalRuntimeError) as missing:
        fakerfc.Connection(client="100", user="U", passwd="P")
    assert missing.value.key == "RFC_INVALID_PARAMETER"
    with pytest.raises(fakerfc.CommunicationError) as unreachable:
        fakerfc.Connection(**{**logon, "ashost": "elsewhere.test"})
    assert unreachable.value.code == 1
    assert unreachable.value.message == "partner 'elsewhere.test:3300' not reached"
    with pytest.raises(fakerfc.CommunicationError):
        fakerfc.Connection(**{**logon, "fake_db": "/nonexistent/sap.db"})


def test_unknown_function_parameter_and_closed_connection(conn: fakerfc.Connection) -> None:
    """FU_NOT_FOUND, RFC_INVALID_PARAMETER, and a call after close() is refused."""
    with pytest.raises(fakerfc.ABAPApplicationError) as unknown:
        conn.call("Z_NOT_THERE")
    assert (unknown.value.code, unknown.value.key) == (5, "FU_NOT_FOUND")
    assert unknown.value.message == "ID:FL Type:E Number:046 Z_NOT_THERE"
    with pytest.raises(fakerfc.ExternalRuntimeError, match="field 'TABLE' not found"):
        conn.call("RFC_READ_TABLE", TABLE="PRPS")
    conn.close()
    with pytest.raises(fakerfc.RFCError, match="because the connection is closed"):
        conn.call("RFC_PING")


def test_error_string_has_pyrfc_format() -> None:
    """str() of an RFC error reads as pyrfc prints it."""
    error = fakerfc.ABAPApplicationError(
        " Number:000", 5, "DATA_BUFFER_EXCEEDED", "", "", "000", "", "", "", ""
    )
    assert str(error) == (
        "RFC_ABAP_EXCEPTION (rc=5): key=DATA_BUFFER_EXCEEDED, message= Number:000 "
        "[MSG: class=, type=, number=000, v1-4:=;;;]"
    )


def test_communication_error_after_n_calls_then_the_connection_works(
    conn: fakerfc.Connection, system: SapSystem
) -> None:
    """The switch fails the call after N, once; the connection reopens itself and the same
    read answers again."""
    system.switches.communication_error_after = system.rfc_calls + 2
    first = read(conn, "T001", ["BUKRS"])
    read(conn, "T001", ["BUKRS"])
    with pytest.raises(fakerfc.CommunicationError) as broken:
        read(conn, "T001", ["BUKRS"])
    assert broken.value.key == "RFC_COMMUNICATION_FAILURE"
    assert conn.alive
    assert read(conn, "T001", ["BUKRS"]) == first == [{"BUKRS": "1000"}, {"BUKRS": "2000"}]


def test_runtime_error_switch(conn: fakerfc.Connection, system: SapSystem) -> None:
    """The next call dumps with the key given (ABAPRuntimeError, code 3), the one after works."""
    system.switches.runtime_error = "TSV_TNEW_PAGE_ALLOC_FAILED"
    with pytest.raises(fakerfc.ABAPRuntimeError) as dump:
        read(conn, "T001", ["BUKRS"])
    assert (dump.value.code, dump.value.key) == (3, "TSV_TNEW_PAGE_ALLOC_FAILED")
    assert len(read(conn, "T001", ["BUKRS"])) == 2


def test_calls_are_counted(conn: fakerfc.Connection, system: SapSystem) -> None:
    """Every call counts, failed ones too."""
    before = system.rfc_calls
    conn.ping()
    with pytest.raises(fakerfc.ABAPApplicationError):
        conn.call("Z_NOT_THERE")
    assert system.rfc_calls == before + 2


def test_no_rfc_authority_for_a_function(conn: fakerfc.Connection, system: SapSystem) -> None:
    """Without S_RFC for RFC_READ_TABLE: ABAPRuntimeError RFC_NO_AUTHORITY naming the user
    and the function; other functions still answer."""
    system.switches.no_rfc_authority.add("RFC_READ_TABLE")
    with pytest.raises(fakerfc.ABAPRuntimeError) as caught:
        read(conn, "T001", ["BUKRS"])
    assert (caught.value.code, caught.value.key) == (3, "RFC_NO_AUTHORITY")
    assert (
        caught.value.message
        == "User RFC_PMO has no RFC authorization for function module RFC_READ_TABLE."
    )
    assert conn.call("/BODS/RFC_READ_TABLE", QUERY_TABLE="T001", FIELDS=[{"FIELDNAME": "BUKRS"}])[
        "DATA"
    ] == [{"WA": "1000"}, {"WA": "2000"}]


def test_a_system_without_a_read_table_variant() -> None:
    """A system that has only /BODS/RFC_READ_TABLE answers RFC_READ_TABLE with FU_NOT_FOUND."""
    system = SapSystem(read_table_functions=["/BODS/RFC_READ_TABLE"])
    seed_demo(system)
    with (
        fakerfc.register(system, ashost="bods.test"),
        fakerfc.Connection(
            ashost="bods.test", sysnr="00", client="100", user=USER.user, passwd=USER.password
        ) as conn,
    ):
        with pytest.raises(fakerfc.ABAPApplicationError) as caught:
            conn.call("RFC_READ_TABLE", QUERY_TABLE="T001")
        assert caught.value.key == "FU_NOT_FOUND"
        assert (
            len(
                conn.call(
                    "/BODS/RFC_READ_TABLE", QUERY_TABLE="T001", FIELDS=[{"FIELDNAME": "BUKRS"}]
                )["DATA"]
            )
            == 2
        )
