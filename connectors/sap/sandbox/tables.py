"""The dictionary (DDIC) of the fake SAP system: the PS/CO tables it holds, each field with
SAP's name, ABAP internal type, length, decimals and short text, in the table's field order.

What RFC_READ_TABLE reports for a field (`FIELDS` rows: OFFSET, LENGTH, TYPE, FIELDTEXT) and
how it writes a value into a `WA` row follow from this: the internal types are C (character),
N (numeric text, NUMC), D (date YYYYMMDD), T (time HHMMSS), P (packed: CURR, QUAN, DEC) and
b (INT1). LENGTH is the dictionary length (for P: the number of digits, as DFIES-LENG gives
it); a value that does not fit is cut on the left with `*` as ABAP's MOVE does.

Field lists follow SAP's tables (sources: sapdatasheet.org, datapanda.eu, paspas.io pages of
PROJ, PRPS, PRHI, COSP, COSS, COEP, COBK, BPGE, BPJA, T001, TKA01, TCURR, CSKS; the fact sheet
/work/shared/reference/source-apis.md 3.3 and 7). They are the fields a PS/CO reader needs,
not every field SAP has: a field a client asks for that is not here is FIELD_NOT_VALID, as a
misspelt field would be.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Field:
    """One DDIC field: `type` is the ABAP internal type, `length` the dictionary length
    (digits for P), `decimals` the P field's decimals."""

    name: str
    type: str
    length: int
    text: str
    decimals: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    """One transparent table: its fields in order and its primary key (field names)."""

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]

    def field(self, name: str) -> Field | None:
        """The field of that name, or None."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        return None

    @property
    def client_dependent(self) -> bool:
        """A table whose first field is MANDT: a logon reads its own client's rows only."""
        return self.fields[0].name == "MANDT"


PERIODS = range(1, 17)
"""CO totals carry 16 period columns: 12 posting periods and special periods 13-16."""


def _fields(spec: str) -> tuple[Field, ...]:
    """Fields from lines `NAME TYPE LENGTH[.DECIMALS] Text`; a `###` in the name stands for
    the 16 periods 001..016."""
    fields: list[Field] = []
    for line in filter(str.strip, spec.splitlines()):
        name, kind, size, text = line.split(maxsplit=3)
        length, _, decimals = size.partition(".")
        names = [name.replace("###", f"{p:03d}") for p in PERIODS] if "###" in name else [name]
        for each in names:
            label = f"{text} {each[-3:]}" if "###" in name else text
            fields.append(Field(each, kind, int(length), label, int(decimals or 0)))
    return tuple(fields)


_MANDT = "MANDT C 3 Client\n"
_CO_KEYS = """
LEDNR C 2 Ledger for Controlling objects
OBJNR C 22 Object number
GJAHR N 4 Fiscal Year
WRTTP C 2 Value Type
VERSN C 3 Version
KSTAR C 10 Cost Element
HRKFT C 4 CO key subnumber
VRGNG C 4 CO Business Transaction
"""
_CO_VALUES = """
VBUND C 6 Company ID of trading partner
PARGB C 4 Trading partner's business area
BEKNZ C 1 Debit/credit indicator
TWAER C 5 Transaction Currency
PERBL N 3 Period block
MEINH C 3 Unit of Measure
WTG### P 15.2 Total Value in Transaction Currency
WOG### P 15.2 Total Value in Object Currency
WKG### P 15.2 Total Value in Controlling Area Currency
MEG### P 15.3 Total Quantity
"""
_PARTNER = """
PAROB C 22 Partner object
USPOB C 22 Source object
"""
_BUDGET_KEYS = """
LEDNR C 4 Budget/Planning Ledger
OBJNR C 22 Object number
POSIT C 8 Internal commitment item
TRGKZ C 1 Object indicator
WRTTP C 2 Value Type
"""
_BUDGET_TYPE = """
GEBER C 10 Fund
VERSN C 3 Version
VORGA C 4 Budget Type
TWAER C 5 Transaction Currency
"""
_PROJ = """
PSPNR N 8 Project definition (internal)
PSPID C 24 Project Definition
POST1 C 40 PS: Short description (1st text line)
OBJNR C 22 Object number
ERNAM C 12 Name of Person Who Created the Object
ERDAT D 8 Date on which the record was created
AEDAT D 8 Changed On
VERNR N 8 Number of the responsible person (project manager)
VBUKR C 4 Company code for the project
VKOKR C 4 Controlling area for the project
PRCTR C 10 Profit Center
PWHIE C 5 WBS currency (project definition)
PROFL C 7 Project Profile
PLFAZ D 8 Project planned start date
PLSEZ D 8 Project planned finish date
LOEVM C 1 Deletion Indicator
"""
_PRPS = """
PSPNR N 8 WBS Element
POSID C 24 Work Breakdown Structure Element (WBS Element)
POST1 C 40 PS: Short description (1st text line)
OBJNR C 22 Object number
PSPHI N 8 Current number of the appropriate project
POSKI C 16 Short Identification of WBS Element
ERNAM C 12 Name of Person Who Created the Object
ERDAT D 8 Date on which the record was created
AEDAT D 8 Changed On
VERNR N 8 Number of the responsible person
PBUKR C 4 Company code for WBS element
PKOKR C 4 Controlling area for WBS element
PRCTR C 10 Profit Center
PRART C 2 Project type
STUFE b 3 Level in project hierarchy
PLAKZ C 1 Indicator: Planning element
BELKZ C 1 Indicator: Account assignment element
FAKKZ C 1 Indicator: Billing element
LOEVM C 1 Deletion Indicator
"""
_PRHI = """
POSNR N 8 WBS Element
PSPHI N 8 Current number of the appropriate project
UP N 8 Number of the superior WBS element
DOWN N 8 Number of the first subordinate WBS element
LEFT N 8 Number of the WBS element to the left
RIGHT N 8 Number of the WBS element to the right
"""
_COBK = """
KOKRS C 4 Controlling Area
BELNR C 10 Document Number
GJAHR N 4 Fiscal Year
VERSN C 3 Version
VRGNG C 4 CO Business Transaction
BLDAT D 8 Document Date in Document
BUDAT D 8 Posting Date in the Document
PERAB N 3 From period
PERBI N 3 To period
CPUDT D 8 Day On Which Accounting Document Was Entered
CPUTM T 6 Time of Entry
USNAM C 12 User Name
BLTXT C 50 Document Header Text
REFBN C 10 Reference document number
STFLG C 1 Indicator: Reversal document
STOKZ C 1 Indicator: Document reversed
"""
_COEP_HEAD = """
KOKRS C 4 Controlling Area
BELNR C 10 Document Number
BUZEI N 3 Posting row
PERIO N 3 Period
WTGBTR P 15.2 Total Value in Transaction Currency
WOGBTR P 15.2 Total Value in Object Currency
WKGBTR P 15.2 Value in Controlling Area Currency
MBGBTR P 15.3 Total Quantity Entered
"""
_COEP = """
BEKNZ C 1 Debit/credit indicator
BELTP N 1 Debit type
TWAER C 5 Transaction Currency
OWAER C 5 Object Currency
MEINH C 3 Unit of Measure
SGTXT C 50 Segment Text
BUKRS C 4 Company Code
GKONT C 10 Offsetting Account Number
"""
_T001 = """
BUKRS C 4 Company Code
BUTXT C 25 Name of Company Code or Company
ORT01 C 25 City
LAND1 C 3 Country Key
WAERS C 5 Currency Key
KTOPL C 4 Chart of Accounts
PERIV C 2 Fiscal Year Variant
"""
_TKA01 = """
KOKRS C 4 Controlling Area
BEZEI C 25 Name of the controlling area
WAERS C 5 Currency Key
KTOPL C 4 Chart of Accounts
LMONA C 2 Fiscal Year Variant
"""
_TCURR = """
KURST C 4 Exchange rate type
FCURR C 5 From currency
TCURR C 5 To-currency
GDATU C 8 Date As of Which the Exchange Rate Is Effective
UKURS P 9.5 Exchange Rate
FFACT P 9.0 Ratio for the "From" Currency Units
TFACT P 9.0 Ratio for the "To" Currency Units
"""
_TCURX = """
CURRKEY C 5 Currency Key
CURRDEC b 3 Number of decimal places
"""
_DD03L = """
TABNAME C 30 Table Name
FIELDNAME C 30 Field Name
AS4LOCAL C 1 Activation Status of a Repository Object
AS4VERS N 4 Version of the entry (not used)
POSITION N 4 Position of the field in the table
KEYFLAG C 1 Identifies a key field of a table
"""
_CSKS = """
KOKRS C 4 Controlling Area
KOSTL C 10 Cost Center
DATBI D 8 Valid To Date
DATAB D 8 Valid-From Date
BUKRS C 4 Company Code
PRCTR C 10 Profit Center
WAERS C 5 Currency Key
OBJNR C 22 Object number
"""
_AUFK = """
AUFNR C 12 Order Number
AUART C 4 Order Type
AUTYP N 2 Order category
KTEXT C 40 Description
BUKRS C 4 Company Code
KOKRS C 4 Controlling Area
WAERS C 5 Order Currency
OBJNR C 22 Object number
PRCTR C 10 Profit Center
ERDAT D 8 Created on
AEDAT D 8 Change date for Order Master
LOEKZ C 1 Deletion flag
"""
_CO_KEY = "MANDT LEDNR OBJNR GJAHR WRTTP VERSN KSTAR HRKFT VRGNG"
_BUDGET_KEY = "MANDT LEDNR OBJNR POSIT TRGKZ WRTTP"

# name, fields, primary key
_DDIC = (
    ("PROJ", _MANDT + _PROJ, "MANDT PSPNR"),
    ("PRPS", _MANDT + _PRPS, "MANDT PSPNR"),
    ("PRHI", _MANDT + _PRHI, "MANDT POSNR"),
    ("COSP", _MANDT + _CO_KEYS + _CO_VALUES, f"{_CO_KEY} VBUND PARGB BEKNZ TWAER PERBL"),
    (
        "COSS",
        _MANDT + _CO_KEYS + _PARTNER + _CO_VALUES,
        f"{_CO_KEY} PAROB USPOB VBUND PARGB BEKNZ TWAER PERBL",
    ),
    ("COBK", _MANDT + _COBK, "MANDT KOKRS BELNR"),
    ("COEP", _MANDT + _COEP_HEAD + _CO_KEYS + _PARTNER + _COEP, "MANDT KOKRS BELNR BUZEI"),
    (
        "BPGE",
        _MANDT
        + _BUDGET_KEYS
        + _BUDGET_TYPE
        + "WTGES P 15.2 Overall value in transaction currency\n"
        + "WLGES P 15.2 Overall value in controlling area currency",
        f"{_BUDGET_KEY} GEBER VERSN VORGA TWAER",
    ),
    (
        "BPJA",
        _MANDT
        + _BUDGET_KEYS
        + "GJAHR N 4 Fiscal Year\n"
        + _BUDGET_TYPE
        + "WTJHR P 15.2 Annual value in transaction currency\n"
        + "WLJHR P 15.2 Annual value in controlling area currency",
        f"{_BUDGET_KEY} GJAHR GEBER VERSN VORGA TWAER",
    ),
    ("T001", _MANDT + _T001, "MANDT BUKRS"),
    ("TKA01", _MANDT + _TKA01, "MANDT KOKRS"),
    ("TCURR", _MANDT + _TCURR, "MANDT KURST FCURR TCURR GDATU"),
    ("TCURX", _TCURX, "CURRKEY"),
    ("DD03L", _DD03L, "TABNAME FIELDNAME AS4LOCAL AS4VERS POSITION"),
    ("CSKS", _MANDT + _CSKS, "MANDT KOKRS KOSTL DATBI"),
    ("AUFK", _MANDT + _AUFK, "MANDT AUFNR"),
)

TABLES: dict[str, Table] = {
    name: Table(name, _fields(spec), tuple(key.split())) for name, spec, key in _DDIC
}
