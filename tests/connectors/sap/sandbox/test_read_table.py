"""RFC_READ_TABLE as SAP answers it: layout, fixed-width rows, limits, errors, WHERE, paging."""

from __future__ import annotations

from typing import Any

import pytest

from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from tests.connectors.sap.sandbox.conftest import read


def _call(conn: fakerfc.Connection, **params: Any) -> dict[str, Any]:
    return conn.call("RFC_READ_TABLE", **params)


def _abap_key(conn: fakerfc.Connection, **params: Any) -> str:
    with pytest.raises(fakerfc.ABAPApplicationError) as caught:
        _call(conn, **params)
    assert caught.value.code == 5
    return str(caught.value.key)


def _where_key(conn: fakerfc.Connection, *lines: str) -> str:
    """The ABAP exception of reading PRPS-POSID with these OPTIONS lines."""
    options = [{"TEXT": line} for line in lines]
    return _abap_key(conn, QUERY_TABLE="PRPS", FIELDS=[{"FIELDNAME": "POSID"}], OPTIONS=options)


def test_fields_layout_and_fixed_width_rows(conn: fakerfc.Connection) -> None:
    """FIELDS carry offset, length, type and text; WA holds each value padded to its length
    with the delimiter between; the last field is right-stripped as pyrfc does."""
    answer = _call(
        conn,
        QUERY_TABLE="PRPS",
        DELIMITER="|",
        FIELDS=[{"FIELDNAME": "PSPNR"}, {"FIELDNAME": "POSID"}, {"FIELDNAME": "PSPHI"}],
        OPTIONS=[{"TEXT": "POSID = 'PRJ-0001.1'"}],
    )
    assert answer["FIELDS"] == [
        {
            "FIELDNAME": "PSPNR",
            "OFFSET": "000000",
            "LENGTH": "000008",
            "TYPE": "N",
            "FIELDTEXT": "WBS Element",
        },
        {
            "FIELDNAME": "POSID",
            "OFFSET": "000009",
            "LENGTH": "000024",
            "TYPE": "C",
            "FIELDTEXT": "Work Breakdown Structure Element (WBS Element)",
        },
        {
            "FIELDNAME": "PSPHI",
            "OFFSET": "000034",
            "LENGTH": "000008",
            "TYPE": "N",
            "FIELDTEXT": "Current number of the appropriate project",
        },
    ]
    assert answer["DATA"] == [{"WA": "00000102|PRJ-0001.1              |00000001"}]
    assert answer["OPTIONS"] == [{"TEXT": "POSID = 'PRJ-0001.1'"}]


def test_no_delimiter_and_no_rstrip(logon: dict[str, str]) -> None:
    """Without a delimiter (or a blank one: SPACE) the fields touch; with rstrip off the row
    keeps its blanks."""
    with fakerfc.Connection(config={"rstrip": False}, **logon) as conn:
        answer = _call(
            conn,
            QUERY_TABLE="T001",
            FIELDS=[{"FIELDNAME": "BUKRS"}, {"FIELDNAME": "WAERS"}],
            ROWCOUNT=1,
        )
    assert answer["FIELDS"][1]["OFFSET"] == "000004"
    assert answer["DATA"] == [{"WA": "1000EUR  "}]
    with fakerfc.Connection(**logon) as conn:
        blank = _call(
            conn,
            QUERY_TABLE="T001",
            DELIMITER=" ",
            FIELDS=[{"FIELDNAME": "BUKRS"}, {"FIELDNAME": "WAERS"}],
            ROWCOUNT=1,
        )
    assert blank["DATA"] == [{"WA": "1000EUR"}]


def test_value_with_the_delimiter_is_cut_by_offsets(conn: fakerfc.Connection) -> None:
    """PRJ-0002.1's description contains '|': only offsets read it whole."""
    answer = _call(
        conn,
        QUERY_TABLE="PRPS",
        DELIMITER="|",
        FIELDS=[{"FIELDNAME": "POST1"}, {"FIELDNAME": "POSID"}],
        OPTIONS=[{"TEXT": "POSID = 'PRJ-0002.1'"}],
    )
    wa = answer["DATA"][0]["WA"]
    assert wa.count("|") == 2
    assert wa[0:40].rstrip() == "Extract | Load design"
    assert wa[41:] == "PRJ-0002.1"


def test_amounts_dates_and_numc(conn: fakerfc.Connection, seed: Any) -> None:
    """Packed amounts right-aligned with a trailing minus, initial dates 00000000, NUMC with
    leading zeros."""
    rows = read(
        conn,
        "COSP",
        ["OBJNR", "BEKNZ", "WKG016", "WKG013", "PERBL"],
        ["OBJNR = 'PR00000301' AND KSTAR = '0000417000' AND WRTTP = '04'"],
    )
    assert {r["BEKNZ"]: (r["WKG013"], r["WKG016"], r["PERBL"]) for r in rows} == {
        "H": ("0.00", "2302.03-", "016"),
        "S": ("11510.13", "0.00", "016"),
    }
    answer = _call(
        conn,
        QUERY_TABLE="PRHI",
        FIELDS=[{"FIELDNAME": "DOWN"}, {"FIELDNAME": "UP"}],
        OPTIONS=[{"TEXT": "POSNR = '00000104'"}],
    )
    assert answer["DATA"] == [{"WA": "0000000000000101"}]
    dates = _call(conn, QUERY_TABLE="CSKS", FIELDS=[{"FIELDNAME": "DATBI"}, {"FIELDNAME": "DATAB"}])
    assert dates["DATA"] == [{"WA": "9999123120240101"}]


def test_packed_value_too_long_is_cut_with_a_star(
    system: SapSystem, conn: fakerfc.Connection
) -> None:
    """A value wider than the field's length is cut on the left with '*' as MOVE does."""
    system.insert(
        "TCURR",
        {
            "KURST": "ZZ",
            "FCURR": "XAU",
            "TCURR": "EUR",
            "GDATU": "79749898",
            "UKURS": "-1234.56789",
            "FFACT": 1,
            "TFACT": 1,
        },
    )
    answer = _call(
        conn,
        QUERY_TABLE="TCURR",
        FIELDS=[{"FIELDNAME": "UKURS"}, {"FIELDNAME": "KURST"}],
        OPTIONS=[{"TEXT": "KURST = 'ZZ'"}],
    )
    assert answer["DATA"] == [{"WA": "*4.56789-ZZ"}]


def test_exceptions_of_the_module(conn: fakerfc.Connection, system: SapSystem) -> None:
    """TABLE_NOT_AVAILABLE, TABLE_WITHOUT_DATA (a structure), FIELD_NOT_VALID, NOT_AUTHORIZED
    and OPTION_NOT_VALID as
    ABAPApplicationError keys, with the message pyrfc shows for a raised exception."""
    assert _abap_key(conn, QUERY_TABLE="ZZ_NOPE") == "TABLE_NOT_AVAILABLE"
    assert _abap_key(conn, QUERY_TABLE="BAPIRET2") == "TABLE_WITHOUT_DATA"
    assert _abap_key(conn, QUERY_TABLE="PRPS", FIELDS=[{"FIELDNAME": "NOPE"}]) == "FIELD_NOT_VALID"
    assert _where_key(conn, "POSID = ") == "OPTION_NOT_VALID"
    assert _where_key(conn, "NOPE = 'X'") == "OPTION_NOT_VALID"
    system.switches.not_authorized.add("COEP")
    with pytest.raises(fakerfc.ABAPApplicationError) as refused:
        _call(conn, QUERY_TABLE="COEP", FIELDS=[{"FIELDNAME": "BELNR"}])
    assert refused.value.key == "NOT_AUTHORIZED"
    assert refused.value.message == " Number:000"


def test_512_limit_counts_delimiters_and_spares_the_no_data_probe(conn: fakerfc.Connection) -> None:
    """512 characters of fields (delimiters included) read; 513 are DATA_BUFFER_EXCEEDED;
    NO_DATA = 'X' answers the FIELDS of any width."""
    # 2 + 32 x 15 (WKG, WTG) + 3 (PERBL) + 33 delimiters = 518: too wide with '|', not without.
    wide = (
        [{"FIELDNAME": "LEDNR"}]
        + [{"FIELDNAME": f"{p}{n:03d}"} for p in ("WKG", "WTG") for n in range(1, 17)]
        + [{"FIELDNAME": "PERBL"}]
    )
    assert _abap_key(conn, QUERY_TABLE="COSP", DELIMITER="|", FIELDS=wide) == "DATA_BUFFER_EXCEEDED"
    answer = _call(conn, QUERY_TABLE="COSP", FIELDS=wide, ROWCOUNT=1)
    assert answer["FIELDS"][-1]["OFFSET"] == "000482"
    exact = (
        [{"FIELDNAME": "OBJNR"}]
        + [{"FIELDNAME": f"WKG{n:03d}"} for n in range(1, 17)]
        + [{"FIELDNAME": f"WTG{n:03d}"} for n in range(1, 16)]
        + [
            {"FIELDNAME": "KSTAR"},
            {"FIELDNAME": "HRKFT"},
            {"FIELDNAME": "VRGNG"},
            {"FIELDNAME": "BEKNZ"},
        ]
    )
    # 22 + 31 x 15 + 10 + 4 + 4 + 1 = 506, + 6 from MEINH/WRTTP... = 512 exactly:
    exact += [{"FIELDNAME": "MEINH"}, {"FIELDNAME": "WRTTP"}, {"FIELDNAME": "BEKNZ"}]
    width = _call(conn, QUERY_TABLE="COSP", FIELDS=exact, NO_DATA="X")["FIELDS"]
    assert int(width[-1]["OFFSET"]) + int(width[-1]["LENGTH"]) == 512
    rows = _call(conn, QUERY_TABLE="COSP", FIELDS=exact, ROWCOUNT=3)["DATA"]
    assert [len(row["WA"]) for row in rows] == [512, 512, 512]
    too_wide = [*exact, {"FIELDNAME": "BEKNZ"}]
    assert _abap_key(conn, QUERY_TABLE="COSP", FIELDS=too_wide) == "DATA_BUFFER_EXCEEDED"
    probe = _call(conn, QUERY_TABLE="COSS", DELIMITER="|", NO_DATA="X")
    assert probe["DATA"] == []
    assert len(probe["FIELDS"]) == 1 + 10 + 6 + 64


def test_options_lines_are_at_most_72_characters(conn: fakerfc.Connection) -> None:
    """A 73-character OPTIONS line is refused before the call (CHAR 72)."""
    line = "POSID = 'PRJ-0001' OR POSID = 'PRJ-0002' OR POSID = 'PRJ-0003' OR POSID ="
    assert len(line) == 73
    with pytest.raises(fakerfc.ExternalRuntimeError) as caught:
        _call(conn, QUERY_TABLE="PRPS", FIELDS=[{"FIELDNAME": "POSID"}], OPTIONS=[{"TEXT": line}])
    assert caught.value.key == "RFC_CONVERSION_FAILURE"


def test_int_parameters_must_be_ints(conn: fakerfc.Connection) -> None:
    """ROWCOUNT as text is a TypeError, as pyrfc raises it."""
    with pytest.raises(TypeError, match="an integer required"):
        _call(conn, QUERY_TABLE="T001", ROWCOUNT="10")


def test_where_is_the_lines_in_order_and_a_line_end_splits_tokens(conn: fakerfc.Connection) -> None:
    """A condition over several lines reads as one; a literal cut by a line end is invalid."""
    lines = ["POSID LIKE 'PRJ-0001%' AND", "( STUFE = 2 OR STUFE = 3 )"]
    assert [r["POSID"] for r in read(conn, "PRPS", ["POSID"], lines)] == [
        "PRJ-0001.1",
        "PRJ-0001.2",
        "PRJ-0001.3",
        "PRJ-0001.1.1",
    ]
    assert _where_key(conn, "POSID = 'PRJ-", "0001'") == "OPTION_NOT_VALID"
    assert _where_key(conn, "POSID = 'PRJ-0001' A", "ND STUFE = 1") == "OPTION_NOT_VALID"


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (["PSPHI EQ '00000002'"], ["PRJ-0002", "PRJ-0002.1", "PRJ-0002.2"]),
        (["PSPHI = '2'"], ["PRJ-0002", "PRJ-0002.1", "PRJ-0002.2"]),
        (["PSPHI = 2 AND POSID >< 'PRJ-0002'"], ["PRJ-0002.1", "PRJ-0002.2"]),
        (["PSPHI = '00000002' AND POSID <> 'PRJ-0002'"], ["PRJ-0002.1", "PRJ-0002.2"]),
        (["PSPHI = '00000002' AND POSID NE 'PRJ-0002'"], ["PRJ-0002.1", "PRJ-0002.2"]),
        (["PSPNR >= '00000501' AND PSPNR < '00000601'"], ["PRJ-0005", "PRJ-0005.1", "PRJ-0005.2"]),
        (
            ["PSPNR GE '00000501' AND PSPNR LT '00000601' AND STUFE GT 1"],
            ["PRJ-0005.1", "PRJ-0005.2"],
        ),
        (["PSPNR BETWEEN '00000401' AND '00000402'"], ["PRJ-0004", "PRJ-0004.1"]),
        (["PSPNR NOT BETWEEN '00000102' AND '00000601'"], ["PRJ-0001", "PRJ-0006.1"]),
        (["POSID IN ( 'PRJ-0006', 'PRJ-0004.1' )"], ["PRJ-0004.1", "PRJ-0006"]),
        (["POSID IN ( 'PRJ-0006' , 'PRJ-0004.1' ) AND NOT STUFE = 1"], ["PRJ-0004.1"]),
        (["POSID NOT LIKE 'PRJ-000_.%' AND PSPHI <= '00000002'"], ["PRJ-0001", "PRJ-0002"]),
        (["( POSID = 'PRJ-0003' OR POSID = 'PRJ-0004' ) AND STUFE LE 1"], ["PRJ-0003", "PRJ-0004"]),
        (["post1 like '%| Load%'"], ["PRJ-0002.1"]),
        (["POST1 = 'It''s none'"], []),
    ],
)
def test_where_conditions(conn: fakerfc.Connection, where: list[str], expected: list[str]) -> None:
    """Open SQL operators, words and symbols, IN, BETWEEN, LIKE, NOT, OR, parentheses,
    NUMC literals filled with zeros, doubled quotes."""
    assert sorted(r["POSID"] for r in read(conn, "PRPS", ["POSID"], where)) == sorted(expected)


def test_numeric_literals_on_amounts(conn: fakerfc.Connection) -> None:
    """Packed columns compare as numbers: a negative integer and a quoted decimal."""
    rows = read(conn, "COSP", ["OBJNR", "BEKNZ"], ["WKG016 < -100 AND WKG016 >= '-2302.03'"])
    assert rows == [{"OBJNR": "PR00000301", "BEKNZ": "H"}]
    assert _where_key(conn, "STUFE = 1.5") == "OPTION_NOT_VALID"


def test_quoted_quote_matches(system: SapSystem, conn: fakerfc.Connection) -> None:
    """'' inside a literal is one quote."""
    system.insert("T001", {"BUKRS": "3000", "BUTXT": "O'Brien Ltd", "WAERS": "GBP"})
    assert read(conn, "T001", ["BUKRS"], ["BUTXT = 'O''Brien Ltd'"]) == [{"BUKRS": "3000"}]


def test_rowskips_and_rowcount_page(conn: fakerfc.Connection) -> None:
    """ROWSKIPS then ROWCOUNT rows; the pages add up to the whole table."""
    whole = read(conn, "PRPS", ["POSID"])
    pages = [
        read(conn, "PRPS", ["POSID"], ROWSKIPS=skip, ROWCOUNT=5) for skip in range(0, len(whole), 5)
    ]
    assert [len(p) for p in pages][:-1] == [5] * (len(pages) - 1)
    assert [row for page in pages for row in page] == whole


def test_unordered_switch_moves_rows_between_pages(
    conn: fakerfc.Connection, system: SapSystem
) -> None:
    """With no guaranteed order, ROWSKIPS pages repeat and skip rows."""
    whole = read(conn, "PRPS", ["POSID"])
    system.switches.unordered = True
    paged = [
        row["POSID"]
        for skip in range(0, len(whole), 5)
        for row in read(conn, "PRPS", ["POSID"], ROWSKIPS=skip, ROWCOUNT=5)
    ]
    assert len(paged) == len(whole)
    assert sorted(set(paged)) != sorted(r["POSID"] for r in whole)


def test_alias_function_names(conn: fakerfc.Connection) -> None:
    """/BODS/RFC_READ_TABLE has the same interface and answer."""
    params = {
        "QUERY_TABLE": "TKA01",
        "DELIMITER": "|",
        "FIELDS": [{"FIELDNAME": "KOKRS"}, {"FIELDNAME": "WAERS"}],
    }
    assert conn.call("/BODS/RFC_READ_TABLE", **params) == conn.call("RFC_READ_TABLE", **params)
    assert conn.call("RFC_READ_TABLE", **params)["DATA"] == [{"WA": "1000|EUR"}]


def test_client_dependent_tables_read_the_logon_client(
    conn: fakerfc.Connection, system: SapSystem
) -> None:
    """Rows of another client are not seen."""
    system.insert("T001", {"BUKRS": "9000", "WAERS": "CHF"}, client="200")
    assert [r["BUKRS"] for r in read(conn, "T001", ["BUKRS"])] == ["1000", "2000"]
