"""RFC_READ_TABLE as the docs describe it, through the in-test PyRFC stand-in: OPTIONS lines,
FIELDS chunks joined by key, ROWSKIPS/ROWCOUNT, offsets, errors and retries."""

from __future__ import annotations

import pytest

from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    SourceError,
    StreamConfigError,
)
from pmo_ledger.connectors.sap.rfc import (
    Field,
    RfcClient,
    chunk_fields,
    parse_rows,
    where_lines,
)
from tests.connectors.sap.sap_system import STUB, total
from tests.connectors.sap.stub_rfc import System, Table

LOGON = {"ashost": "127.0.0.1", "sysnr": "00", "client": "100", "user": "PMO", "passwd": "secret"}


def client(**kw: object) -> RfcClient:
    return RfcClient("erp", STUB, LOGON, sleep=lambda _: None, **kw)  # type: ignore[arg-type]


def test_options_lines_are_at_most_72_characters_cut_outside_literals() -> None:
    where = " AND ".join(f"OBJNR = 'PR{n:08d} X'" for n in range(6)) + " AND ( KSTAR = 'A''B' )"
    lines = [line["TEXT"] for line in where_lines(where)]
    assert all(len(line) <= 72 for line in lines)
    assert " ".join(lines) == where  # nothing lost, no token cut
    assert any("'PR00000003 X'" in line for line in lines)  # a literal's blank is no cut
    with pytest.raises(ValueError, match="longer than an OPTIONS line"):
        where_lines("POST1 = '" + "x" * 80 + "'")
    with pytest.raises(ValueError, match="unclosed literal"):
        where_lines("POST1 = 'open")


def test_fields_are_chunked_under_the_row_limit_each_with_the_key() -> None:
    fields = [Field("OBJNR", 0, 22), *(Field(f"WKG{p:03d}", 0, 17) for p in range(1, 33))]
    chunks = chunk_fields(fields, ["OBJNR"], 512, "|")
    assert len(chunks) == 2
    for chunk in chunks:
        assert chunk[0] == "OBJNR"
        assert sum(17 if n != "OBJNR" else 22 for n in chunk) + len(chunk) - 1 <= 512
    assert sorted({n for c in chunks for n in c}) == sorted(f.name for f in fields)


def test_rows_are_cut_by_offset_not_by_the_delimiter() -> None:
    fields = [
        {"FIELDNAME": "PSPID", "OFFSET": "000000", "LENGTH": "000024", "TYPE": "C"},
        {"FIELDNAME": "POST1", "OFFSET": "000025", "LENGTH": "000040", "TYPE": "C"},
        {"FIELDNAME": "WKG001", "OFFSET": "000066", "LENGTH": "000017", "TYPE": "P"},
    ]
    wa = "P-1000".ljust(24) + "|" + "Plant | upgrade".ljust(40) + "|" + "12.50-".rjust(17)
    last_stripped = "P-1000".ljust(24) + "|" + "Pump".ljust(40) + "|" + "   7"
    rows = parse_rows(fields, [{"WA": wa}, {"WA": last_stripped}])
    assert rows == [
        {"PSPID": "P-1000", "POST1": "Plant | upgrade", "WKG001": "12.50-"},
        {"PSPID": "P-1000", "POST1": "Pump", "WKG001": "7"},
    ]


def test_a_wide_table_is_read_in_chunks_joined_by_key(system: System) -> None:
    total(system, "COSS", "PR00000011", "0000400000", 2026, {1: "10.00", 16: "-2.50"},
          hours={1: "8.0"})  # fmt: skip
    total(system, "COSS", "PR00000012", "0000400000", 2026, {2: "5.00"})
    rfc = client(page_rows=1)
    key = ["OBJNR", "GJAHR", "KSTAR", "BEKNZ"]
    wanted = [*key, "MEINH", *(f"WKG{p:03d}" for p in range(1, 17)),
              *(f"MEG{p:03d}" for p in range(1, 17))]  # fmt: skip
    rows = rfc.read_table("COSS", wanted, "GJAHR = '2026'", key)
    assert {r["OBJNR"]: (r["WKG001"], r["WKG016"], r["MEG001"]) for r in rows} == {
        "PR00000011": ("10.00", "2.50-", "8.0"),
        "PR00000012": ("", "", ""),
    }
    reads = [c for c in system.calls if c.get("NO_DATA") == ""]
    widths = {len(c["FIELDS"]) for c in reads}
    assert len(widths) == 2  # two chunks
    assert [c["ROWSKIPS"] for c in reads] == [0, 1, 2, 0, 1, 2]  # pages of one row each


def test_a_row_near_the_512_byte_limit_is_read_whole(system: System) -> None:
    system.tables["PROJ"].fields.append(("LONGTEXT", 512 - 8 - 24 - 2, "C"))
    system.tables["PROJ"].rows[0]["LONGTEXT"] = "x" * 470 + "|end"
    rows = client().read_table("PROJ", ["PSPNR", "PSPID", "LONGTEXT"], "", ["PSPNR"])
    assert rows[0]["LONGTEXT"] == "x" * 470 + "|end"


def test_a_communication_error_mid_read_is_retried_without_duplicates(system: System) -> None:
    for n in range(5):
        total(system, "COSP", f"PR{n + 11:08d}", "0000400000", 2026, {1: f"{n}.00"})
    system.drop_on = {4}  # DD03L (not served), the probe, page one, the second page drops
    rows = client(page_rows=2).read_table("COSP", ["OBJNR", "WKG001"], "GJAHR = '2026'", ["OBJNR"])
    assert [r["OBJNR"] for r in rows] == [f"PR{n + 11:08d}" for n in range(5)]
    skips = [c["ROWSKIPS"] for c in system.calls if c.get("NO_DATA") == ""]
    assert skips == [0, 2, 2, 4]  # the dropped page is asked again, not skipped


def test_communication_errors_that_persist_are_transient(system: System) -> None:
    from pmo_ledger.connectors.errors import ConnectorTransientError

    system.drop_on = set(range(1, 10))
    with pytest.raises(ConnectorTransientError, match="the connection to SAP failed"):
        client(attempts=3).read_table("PROJ", ["PSPNR"], "", ["PSPNR"])
    assert len(system.calls) == 3


def test_a_partner_down_while_reconnecting_uses_an_attempt_and_is_retried(
    system: System,
) -> None:
    system.drop_on = {1}  # the first call drops; the next connection is refused once
    system.refuse_connects = {2}
    rows = client(attempts=4).read_table("PROJ", ["PSPNR"], "", ["PSPNR"])
    assert [r["PSPNR"] for r in rows] == ["00000001", "00000002"]
    assert system.connects == 3


def test_a_partner_down_on_every_reconnect_is_transient_after_the_attempts(
    system: System,
) -> None:
    from pmo_ledger.connectors.errors import ConnectorTransientError

    system.drop_on = {1}
    system.refuse_connects = set(range(2, 10))
    with pytest.raises(ConnectorTransientError, match="the connection to SAP failed"):
        client(attempts=3).read_table("PROJ", ["PSPNR"], "", ["PSPNR"])
    assert system.connects == 3


def _budget_table(system: System) -> None:
    """A table whose key is OBJNR and POSIT: two rows share an OBJNR."""
    system.tables["ZBUD"] = Table(
        [("OBJNR", 22, "C"), ("POSIT", 8, "C"), ("WTGES", 17, "P")],
        [{"OBJNR": "PR00000011", "POSIT": "A", "WTGES": "100.00"},
         {"OBJNR": "PR00000011", "POSIT": "B", "WTGES": "50.00"}],
    )  # fmt: skip


def test_a_key_the_table_does_not_have_is_a_stream_config_error_naming_it(
    system: System,
) -> None:
    _budget_table(system)  # DD03L is not served: the caller's key (OBJNR) is used
    with pytest.raises(StreamConfigError, match="SAP table ZBUD lists rows that share the key"):
        client().read_table("ZBUD", ["OBJNR", "WTGES"], "", ["OBJNR"])


def test_the_key_is_read_from_dd03l_once_per_table(system: System) -> None:
    _budget_table(system)
    system.tables["DD03L"] = Table(
        [("TABNAME", 30, "C"), ("FIELDNAME", 30, "C"), ("AS4LOCAL", 1, "C"), ("POSITION", 4, "N"),
         ("KEYFLAG", 1, "C")],
        [{"TABNAME": "ZBUD", "FIELDNAME": f, "AS4LOCAL": "A", "POSITION": f"{n:04d}", "KEYFLAG": k}
         for n, (f, k) in enumerate([("MANDT", "X"), ("OBJNR", "X"), ("POSIT", "X"),
                                     ("WTGES", "")], 1)],
    )  # fmt: skip
    c = client()
    for _ in range(2):
        rows = c.read_table("ZBUD", ["OBJNR", "WTGES"], "", ["OBJNR"])
        assert sorted((r["POSIT"], r["WTGES"]) for r in rows) == [("A", "100.00"), ("B", "50.00")]
    dictionary = [x for x in system.calls if x.get("QUERY_TABLE") == "DD03L"]
    assert len(dictionary) == 2  # its fields once, ZBUD's key rows once


def test_a_missing_rfc_module_is_one_line() -> None:
    rfc = RfcClient("erp", "pyrfc_not_here", LOGON)
    with pytest.raises(ConnectorConfigError) as info:
        rfc.ping("erp: RFC_PING")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("erp: cannot import Connection from 'pyrfc_not_here'")
    assert "install SAP's PyRFC with the SAP NW RFC SDK" in message
    assert "connectors.erp.rfc_module" in message


def test_sap_errors_become_typed_errors_with_sap_text(system: System) -> None:
    bad = RfcClient("erp", STUB, {**LOGON, "passwd": "wrong"})
    with pytest.raises(ConnectorConfigError, match=r"SAP refused the logon .*Name or password"):
        bad.ping("erp: RFC_PING")
    with pytest.raises(StreamConfigError, match="TABLE_NOT_AVAILABLE"):
        client().read_table("ZNOPE", ["A"], "", ["A"])
    with pytest.raises(StreamConfigError, match="SAP table PROJ has no field NOPE"):
        client().read_table("PROJ", ["PSPNR", "NOPE"], "", ["PSPNR"])
    with pytest.raises(ConnectorConfigError, match="read_table_function"):
        client(read_table_function="/BODS/RFC_READ_TABLE").read_table(
            "PROJ", ["PSPNR"], "", ["PSPNR"]
        )


def test_return_messages_of_type_e_are_source_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.connectors.sap import stub_rfc

    def call(self: object, name: str, **params: object) -> dict[str, object]:
        return {"RETURN": {"TYPE": "E", "ID": "CJ", "NUMBER": "021", "MESSAGE": "No project"}}

    monkeypatch.setattr(stub_rfc.Connection, "call", call)
    with pytest.raises(SourceError, match="SAP answered RETURN: E CJ 021: No project"):
        client().call("BAPI_PROJECT_GETINFO", "erp: project", PROJECT_DEFINITION="P-1")


def test_a_structure_is_no_table_to_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """RFC_READ_TABLE raises TABLE_WITHOUT_DATA for a name with no database table (an empty
    table just has no rows)."""
    from tests.connectors.sap import stub_rfc

    def call(self: object, name: str, **params: object) -> dict[str, object]:
        raise stub_rfc.ABAPApplicationError("TABLE_WITHOUT_DATA", 5, "TABLE_WITHOUT_DATA")

    monkeypatch.setattr(stub_rfc.Connection, "call", call)
    with pytest.raises(StreamConfigError, match="a structure or view, not a database table"):
        client().read_table("BAPIRET2", ["TYPE"], "", ["TYPE"])


def test_an_empty_table_has_no_rows(system: System) -> None:
    assert client().read_table("COSP", ["OBJNR"], "GJAHR = '1999'", ["OBJNR"]) == []


def test_every_row_of_the_rfc_error_table_is_reached() -> None:
    """One case per row, as the contract's error it becomes (the table as data)."""
    from pmo_ledger.connectors.errors import ConnectorTransientError
    from pmo_ledger.connectors.kit.errors import ErrorTable, Fault
    from pmo_ledger.connectors.sap.rfc_errors import RFC_ERRORS

    table = ErrorTable(RFC_ERRORS, {"name": "erp"})
    cases = {
        "CommunicationError": ConnectorTransientError,
        "LogonError": ConnectorConfigError,
        "RFC_NO_AUTHORITY": ConnectorConfigError,
        "ExternalAuthorizationError": ConnectorConfigError,
        "TABLE_NOT_AVAILABLE": StreamConfigError,
        "TABLE_WITHOUT_DATA": StreamConfigError,
        "NOT_AUTHORIZED": ConnectorConfigError,
        "FU_NOT_FOUND": ConnectorConfigError,
        "DATA_BUFFER_EXCEEDED": SourceError,
        "FIELD_NOT_VALID": StreamConfigError,
        "OPTION_NOT_VALID": StreamConfigError,
        "RETURN": SourceError,
        "RFCError": SourceError,
    }
    reached = set()
    for code, error in cases.items():
        fault = Fault(None, code=code, detail="SAP said so")
        row = table.match(fault)
        assert row is not None, code
        reached.add(row)
        made = table.error(fault, "erp: PROJ")
        assert type(made) is error, code
        assert "SAP said so" in str(made) and "erp: PROJ" in str(made)
    assert reached == set(RFC_ERRORS)
