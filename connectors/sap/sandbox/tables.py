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


def _c(name: str, length: int, text: str) -> Field:
    return Field(name, "C", length, text)


def _n(name: str, length: int, text: str) -> Field:
    return Field(name, "N", length, text)


def _d(name: str, text: str) -> Field:
    return Field(name, "D", 8, text)


def _t(name: str, text: str) -> Field:
    return Field(name, "T", 6, text)


def _p(name: str, text: str, length: int = 15, decimals: int = 2) -> Field:
    return Field(name, "P", length, text, decimals)


_MANDT = _c("MANDT", 3, "Client")

PERIODS = range(1, 17)
"""CO totals carry 16 period columns: 12 posting periods and special periods 13-16."""


def _period_values(prefix: str, text: str, decimals: int = 2) -> tuple[Field, ...]:
    return tuple(
        _p(f"{prefix}{period:03d}", f"{text} {period:03d}", 15, decimals) for period in PERIODS
    )


_CO_TOTAL_KEYS = (
    _c("LEDNR", 2, "Ledger for Controlling objects"),
    _c("OBJNR", 22, "Object number"),
    _n("GJAHR", 4, "Fiscal Year"),
    _c("WRTTP", 2, "Value Type"),
    _c("VERSN", 3, "Version"),
    _c("KSTAR", 10, "Cost Element"),
    _c("HRKFT", 4, "CO key subnumber"),
    _c("VRGNG", 4, "CO Business Transaction"),
)
_CO_TOTAL_TAIL = (
    _c("VBUND", 6, "Company ID of trading partner"),
    _c("PARGB", 4, "Trading partner's business area"),
    _c("BEKNZ", 1, "Debit/credit indicator"),
    _c("TWAER", 5, "Transaction Currency"),
    _n("PERBL", 3, "Period block"),
    _c("MEINH", 3, "Unit of Measure"),
    *_period_values("WTG", "Total Value in Transaction Currency"),
    *_period_values("WOG", "Total Value in Object Currency"),
    *_period_values("WKG", "Total Value in Controlling Area Currency"),
    *_period_values("MEG", "Total Quantity", 3),
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "PROJ",
            (
                _MANDT,
                _n("PSPNR", 8, "Project definition (internal)"),
                _c("PSPID", 24, "Project Definition"),
                _c("POST1", 40, "PS: Short description (1st text line)"),
                _c("OBJNR", 22, "Object number"),
                _c("ERNAM", 12, "Name of Person Who Created the Object"),
                _d("ERDAT", "Date on which the record was created"),
                _d("AEDAT", "Changed On"),
                _n("VERNR", 8, "Number of the responsible person (project manager)"),
                _c("VBUKR", 4, "Company code for the project"),
                _c("VKOKR", 4, "Controlling area for the project"),
                _c("PRCTR", 10, "Profit Center"),
                _c("PWHIE", 5, "WBS currency (project definition)"),
                _c("PROFL", 7, "Project Profile"),
                _d("PLFAZ", "Project planned start date"),
                _d("PLSEZ", "Project planned finish date"),
                _c("LOEVM", 1, "Deletion Indicator"),
            ),
            ("MANDT", "PSPNR"),
        ),
        Table(
            "PRPS",
            (
                _MANDT,
                _n("PSPNR", 8, "WBS Element"),
                _c("POSID", 24, "Work Breakdown Structure Element (WBS Element)"),
                _c("POST1", 40, "PS: Short description (1st text line)"),
                _c("OBJNR", 22, "Object number"),
                _n("PSPHI", 8, "Current number of the appropriate project"),
                _c("POSKI", 16, "Short Identification of WBS Element"),
                _c("ERNAM", 12, "Name of Person Who Created the Object"),
                _d("ERDAT", "Date on which the record was created"),
                _d("AEDAT", "Changed On"),
                _n("VERNR", 8, "Number of the responsible person"),
                _c("PBUKR", 4, "Company code for WBS element"),
                _c("PKOKR", 4, "Controlling area for WBS element"),
                _c("PRCTR", 10, "Profit Center"),
                _c("PRART", 2, "Project type"),
                Field("STUFE", "b", 3, "Level in project hierarchy"),
                _c("PLAKZ", 1, "Indicator: Planning element"),
                _c("BELKZ", 1, "Indicator: Account assignment element"),
                _c("FAKKZ", 1, "Indicator: Billing element"),
                _c("LOEVM", 1, "Deletion Indicator"),
            ),
            ("MANDT", "PSPNR"),
        ),
        Table(
            "PRHI",
            (
                _MANDT,
                _n("POSNR", 8, "WBS Element"),
                _n("PSPHI", 8, "Current number of the appropriate project"),
                _n("UP", 8, "Number of the superior WBS element"),
                _n("DOWN", 8, "Number of the first subordinate WBS element"),
                _n("LEFT", 8, "Number of the WBS element to the left"),
                _n("RIGHT", 8, "Number of the WBS element to the right"),
            ),
            ("MANDT", "POSNR"),
        ),
        Table(
            "COSP",
            (_MANDT, *_CO_TOTAL_KEYS, *_CO_TOTAL_TAIL),
            (
                "MANDT",
                "LEDNR",
                "OBJNR",
                "GJAHR",
                "WRTTP",
                "VERSN",
                "KSTAR",
                "HRKFT",
                "VRGNG",
                "VBUND",
                "PARGB",
                "BEKNZ",
                "TWAER",
                "PERBL",
            ),
        ),
        Table(
            "COSS",
            (
                _MANDT,
                *_CO_TOTAL_KEYS,
                _c("PAROB", 22, "Partner object"),
                _c("USPOB", 22, "Source object"),
                *_CO_TOTAL_TAIL,
            ),
            (
                "MANDT",
                "LEDNR",
                "OBJNR",
                "GJAHR",
                "WRTTP",
                "VERSN",
                "KSTAR",
                "HRKFT",
                "VRGNG",
                "PAROB",
                "USPOB",
                "VBUND",
                "PARGB",
                "BEKNZ",
                "TWAER",
                "PERBL",
            ),
        ),
        Table(
            "COBK",
            (
                _MANDT,
                _c("KOKRS", 4, "Controlling Area"),
                _c("BELNR", 10, "Document Number"),
                _n("GJAHR", 4, "Fiscal Year"),
                _c("VERSN", 3, "Version"),
                _c("VRGNG", 4, "CO Business Transaction"),
                _d("BLDAT", "Document Date in Document"),
                _d("BUDAT", "Posting Date in the Document"),
                _n("PERAB", 3, "From period"),
                _n("PERBI", 3, "To period"),
                _d("CPUDT", "Day On Which Accounting Document Was Entered"),
                _t("CPUTM", "Time of Entry"),
                _c("USNAM", 12, "User Name"),
                _c("BLTXT", 50, "Document Header Text"),
                _c("REFBN", 10, "Reference document number"),
                _c("STFLG", 1, "Indicator: Reversal document"),
                _c("STOKZ", 1, "Indicator: Document reversed"),
            ),
            ("MANDT", "KOKRS", "BELNR"),
        ),
        Table(
            "COEP",
            (
                _MANDT,
                _c("KOKRS", 4, "Controlling Area"),
                _c("BELNR", 10, "Document Number"),
                _n("BUZEI", 3, "Posting row"),
                _n("PERIO", 3, "Period"),
                _p("WTGBTR", "Total Value in Transaction Currency"),
                _p("WOGBTR", "Total Value in Object Currency"),
                _p("WKGBTR", "Value in Controlling Area Currency"),
                _p("MBGBTR", "Total Quantity Entered", 15, 3),
                _c("LEDNR", 2, "Ledger for Controlling objects"),
                _c("OBJNR", 22, "Object number"),
                _n("GJAHR", 4, "Fiscal Year"),
                _c("WRTTP", 2, "Value Type"),
                _c("VERSN", 3, "Version"),
                _c("KSTAR", 10, "Cost Element"),
                _c("HRKFT", 4, "CO key subnumber"),
                _c("VRGNG", 4, "CO Business Transaction"),
                _c("PAROB", 22, "Partner object"),
                _c("USPOB", 22, "Source object"),
                _c("BEKNZ", 1, "Debit/credit indicator"),
                _n("BELTP", 1, "Debit type"),
                _c("TWAER", 5, "Transaction Currency"),
                _c("OWAER", 5, "Object Currency"),
                _c("MEINH", 3, "Unit of Measure"),
                _c("SGTXT", 50, "Segment Text"),
                _c("BUKRS", 4, "Company Code"),
                _c("GKONT", 10, "Offsetting Account Number"),
            ),
            ("MANDT", "KOKRS", "BELNR", "BUZEI"),
        ),
        Table(
            "BPGE",
            (
                _MANDT,
                _c("LEDNR", 4, "Budget/Planning Ledger"),
                _c("OBJNR", 22, "Object number"),
                _c("POSIT", 8, "Internal commitment item"),
                _c("TRGKZ", 1, "Object indicator"),
                _c("WRTTP", 2, "Value Type"),
                _c("GEBER", 10, "Fund"),
                _c("VERSN", 3, "Version"),
                _c("VORGA", 4, "Budget Type"),
                _c("TWAER", 5, "Transaction Currency"),
                _p("WTGES", "Overall value in transaction currency"),
                _p("WLGES", "Overall value in controlling area currency"),
            ),
            (
                "MANDT",
                "LEDNR",
                "OBJNR",
                "POSIT",
                "TRGKZ",
                "WRTTP",
                "GEBER",
                "VERSN",
                "VORGA",
                "TWAER",
            ),
        ),
        Table(
            "BPJA",
            (
                _MANDT,
                _c("LEDNR", 4, "Budget/Planning Ledger"),
                _c("OBJNR", 22, "Object number"),
                _c("POSIT", 8, "Internal commitment item"),
                _c("TRGKZ", 1, "Object indicator"),
                _c("WRTTP", 2, "Value Type"),
                _n("GJAHR", 4, "Fiscal Year"),
                _c("GEBER", 10, "Fund"),
                _c("VERSN", 3, "Version"),
                _c("VORGA", 4, "Budget Type"),
                _c("TWAER", 5, "Transaction Currency"),
                _p("WTJHR", "Annual value in transaction currency"),
                _p("WLJHR", "Annual value in controlling area currency"),
            ),
            (
                "MANDT",
                "LEDNR",
                "OBJNR",
                "POSIT",
                "TRGKZ",
                "WRTTP",
                "GJAHR",
                "GEBER",
                "VERSN",
                "VORGA",
                "TWAER",
            ),
        ),
        Table(
            "T001",
            (
                _MANDT,
                _c("BUKRS", 4, "Company Code"),
                _c("BUTXT", 25, "Name of Company Code or Company"),
                _c("ORT01", 25, "City"),
                _c("LAND1", 3, "Country Key"),
                _c("WAERS", 5, "Currency Key"),
                _c("KTOPL", 4, "Chart of Accounts"),
                _c("PERIV", 2, "Fiscal Year Variant"),
            ),
            ("MANDT", "BUKRS"),
        ),
        Table(
            "TKA01",
            (
                _MANDT,
                _c("KOKRS", 4, "Controlling Area"),
                _c("BEZEI", 25, "Name of the controlling area"),
                _c("WAERS", 5, "Currency Key"),
                _c("KTOPL", 4, "Chart of Accounts"),
                _c("LMONA", 2, "Fiscal Year Variant"),
            ),
            ("MANDT", "KOKRS"),
        ),
        Table(
            "TCURR",
            (
                _MANDT,
                _c("KURST", 4, "Exchange rate type"),
                _c("FCURR", 5, "From currency"),
                _c("TCURR", 5, "To-currency"),
                _c("GDATU", 8, "Date As of Which the Exchange Rate Is Effective"),
                _p("UKURS", "Exchange Rate", 9, 5),
                _p("FFACT", 'Ratio for the "From" Currency Units', 9, 0),
                _p("TFACT", 'Ratio for the "To" Currency Units', 9, 0),
            ),
            ("MANDT", "KURST", "FCURR", "TCURR", "GDATU"),
        ),
        Table(
            "CSKS",
            (
                _MANDT,
                _c("KOKRS", 4, "Controlling Area"),
                _c("KOSTL", 10, "Cost Center"),
                _d("DATBI", "Valid To Date"),
                _d("DATAB", "Valid-From Date"),
                _c("BUKRS", 4, "Company Code"),
                _c("PRCTR", 10, "Profit Center"),
                _c("WAERS", 5, "Currency Key"),
                _c("OBJNR", 22, "Object number"),
            ),
            ("MANDT", "KOKRS", "KOSTL", "DATBI"),
        ),
    )
}
