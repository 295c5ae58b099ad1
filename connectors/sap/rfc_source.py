"""What the connector reads over RFC: PROJ, PRPS/PRHI, COSP/COSS totals, TKA01 (and T001).

Each method reads tables through `RfcClient.read_table` (OPTIONS lines, FIELDS chunks joined
by key, ROWSKIPS/ROWCOUNT pages, rows cut by offset) and hands rows to `normalize`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.sap.normalize import Row, Wbs
from pmo_ledger.connectors.sap.rfc import RfcClient, any_of, condition
from pmo_ledger.connectors.sap.settings import SapSettings

#: Key fields of the CO totals tables, as far as the table has them (joins FIELDS chunks).
TOTALS_KEY = (
    "LEDNR", "OBJNR", "GJAHR", "WRTTP", "VERSN", "KSTAR", "HRKFT", "VRGNG", "VBUND", "PARGB",
    "PAROB", "USPOB", "BEKNZ", "TWAER", "PERBL",
)  # fmt: skip
TOTALS_TABLES = ("COSP", "COSS")
ACTUAL, PLAN = "04", "01"
#: The CO debit/credit indicator (BEKNZ) of settlement postings.
SETTLEMENT = "A"


def objects_condition(types: Sequence[str]) -> str:
    """`( OBJNR LIKE 'PR%' OR ... )` for the CO object types read."""
    parts = [condition("OBJNR", "LIKE", f"{t}%") for t in types]
    return parts[0] if len(parts) == 1 else "( " + " OR ".join(parts) + " )"


class RfcSource:
    """Reads SAP's tables over one RfcClient."""

    def __init__(self, client: RfcClient, settings: SapSettings) -> None:
        self.client, self.settings = client, settings
        self._decimals: dict[str, int] | None = None

    def decimals(self) -> dict[str, int]:
        """TCURX: the currencies whose decimals are not 2 (CURRKEY -> CURRDEC), read once."""
        if self._decimals is None:
            rows = self.client.read_table("TCURX", ["CURRKEY", "CURRDEC"], "", ["CURRKEY"])
            self._decimals = {r["CURRKEY"]: int(r.get("CURRDEC", "").strip() or 2) for r in rows}
        return self._decimals

    def shift(self, currency: str) -> Decimal:
        """What a CURR value of `currency` is multiplied by: SAP stores every CURR amount
        with 2 decimals, a currency of CURRDEC decimals shifted by 10**(CURRDEC-2) (SAP note
        1240163), so JPY (0) 1234 is stored as 12.34 and KWD (3) 1.234 as 12.34."""
        return Decimal(10) ** (2 - self.decimals().get(currency, 2))

    def check(self) -> None:
        self.client.ping(f"{self.client.name}: RFC_PING")

    def currency(self) -> str:
        """The amounts' currency: `currency`, else the controlling area's (TKA01.WAERS)."""
        if self.settings.currency:
            return self.settings.currency
        kokrs = self.settings.controlling_area or ""
        rows = self.client.read_table(
            "TKA01", ["KOKRS", "WAERS"], condition("KOKRS", "=", kokrs), ["KOKRS"]
        )
        if not rows or not rows[0].get("WAERS"):
            raise ConnectorConfigError(
                f"{self.client.name}: controlling area {kokrs!r} is not in TKA01: set "
                f"connectors.{self.client.name}.controlling_area (or currency)"
            )
        return rows[0]["WAERS"]

    def company_currencies(self) -> dict[str, str]:
        """T001: each company code's currency."""
        rows = self.client.read_table("T001", ["BUKRS", "WAERS"], "", ["BUKRS"])
        return {r["BUKRS"]: r["WAERS"] for r in rows}

    def projects(self, where: str = "") -> list[dict[str, str]]:
        """PROJ rows (`where`: only those, e.g. some PSPIDs read again by key)."""
        fields = ["PSPNR", "PSPID", "POST1", "OBJNR", "VBUKR", "PLFAZ", "PLSEZ", "PWHIE", "VERNA",
                  "LOEVM"]  # fmt: skip
        optional = ("VERNA", "VBUKR", "OBJNR", "LOEVM")
        return self._read("PROJ", fields, where, ["PSPNR"], optional=optional)

    def wbs_elements(self, where: str = "") -> list[dict[str, str]]:
        """PRPS rows (`where`: only those, e.g. some POSIDs read again by key)."""
        fields = ["PSPNR", "POSID", "POST1", "OBJNR", "PSPHI", "STUFE", "PBUKR", "PRCTR", "LOEVM"]
        optional = ("STUFE", "PBUKR", "PRCTR", "LOEVM")
        return self._read("PRPS", fields, where, ["PSPNR"], optional=optional)

    def hierarchy(self) -> list[dict[str, str]]:
        return self._read("PRHI", ["POSNR", "UP"], "", ["POSNR"])

    def wbs_by_objnr(self) -> dict[str, Wbs]:
        """PRPS by OBJNR with each element's POSID and its project's PSPID."""
        pspids = {r["PSPNR"]: r["PSPID"] for r in self.projects()}
        return {
            r["OBJNR"]: Wbs(r["POSID"], pspids.get(r["PSPHI"]))
            for r in self.wbs_elements()
            if r.get("OBJNR")
        }

    def totals(
        self, value_type: str, years: Sequence[int] | None, periods: Sequence[int]
    ) -> list[dict[str, str]]:
        """COSP and COSS rows of a value type (plan version `plan_version`) for the object
        types read, for `years` (None: every year from `first_year`), with the WKG (and MEG)
        columns of `periods`."""
        rows: list[dict[str, str]] = []
        for table in TOTALS_TABLES:
            layout = {f.name for f in self.client.layout(table)}
            key = [k for k in TOTALS_KEY if k in layout]
            where = [
                condition("WRTTP", "=", value_type),
                condition("VERSN", "=", self.settings.plan_version),
                objects_condition(self.settings.object_types),
            ]
            if "LEDNR" in layout:
                where.insert(0, condition("LEDNR", "=", "00"))
            if "BEKNZ" in layout and not self.settings.include_settlement:
                where.append(condition("BEKNZ", "<>", SETTLEMENT))
            if years is not None:
                where.append(any_of("GJAHR", [f"{y:04d}" for y in years]))
            elif self.settings.first_year is not None:
                where.append(condition("GJAHR", ">=", f"{self.settings.first_year:04d}"))
            values = [f"WKG{p:03d}" for p in periods]
            quantities = [f"MEG{p:03d}" for p in periods if f"MEG{p:03d}" in layout]
            extra = ["MEINH", *quantities] if "MEINH" in layout and quantities else []
            rows += self.client.read_table(table, [*key, *values, *extra], " AND ".join(where), key)
        return rows

    def budgets(self, annual: bool = False) -> list[dict[str, str]]:
        """BPGE overall (or BPJA annual, `annual`) rows of the budget ledger (`budget_ledger`),
        the budget and release value types (version 000) for WBS elements, with WRTTP, VORGA
        and, where the table has it, the ledger-currency value; BPJA's values are named as
        BPGE's (WTGES, WLGES). BPJA is read for every year: `first_year` is applied by the
        budget, which needs the earlier years to leave them out of the overall value."""
        table, value, ledger = ("BPJA", "WTJHR", "WLJHR") if annual else ("BPGE", "WTGES", "WLGES")
        layout = {f.name for f in self.client.layout(table)}
        key = [
            k
            for k in ("LEDNR", "OBJNR", "POSIT", "TRGKZ", "WRTTP", "GJAHR", "GEBER", "VERSN",
                      "VORGA", "SUBVO", "FAREA", "TWAER", "GNJHR")
            if k in layout and (annual or k not in ("GJAHR", "GNJHR"))
        ]  # fmt: skip
        s = self.settings
        types = {s.budget_value_type, *([s.release_value_type] if s.release_activities else [])}
        where = [
            any_of("WRTTP", sorted(types)),
            condition("VERSN", "=", "000"),
            condition("OBJNR", "LIKE", "PR%"),
        ]
        if "LEDNR" in layout:
            where.insert(0, condition("LEDNR", "=", s.budget_ledger))
        values = [value, *([ledger] if ledger in layout else [])]
        rows = self.client.read_table(table, [*key, *values], " AND ".join(where), key)
        if not annual:
            return rows
        return [{**r, "WTGES": r[value], "WLGES": r.get(ledger, "")} for r in rows]

    def rates(self, rate_type: str) -> list[dict[str, str]]:
        """TCURR rows of one exchange rate type (KURST)."""
        return self.client.read_table(
            "TCURR",
            ["KURST", "FCURR", "TCURR", "GDATU", "UKURS", "FFACT", "TFACT"],
            condition("KURST", "=", rate_type),
            ["KURST", "FCURR", "TCURR", "GDATU"],
        )

    def _read(
        self,
        table: str,
        fields: list[str],
        where: str,
        key: list[str],
        optional: Sequence[str] = (),
    ) -> list[dict[str, str]]:
        layout = {f.name for f in self.client.layout(table)}
        present = [f for f in fields if f in layout or f not in optional]
        rows: list[Any] = self.client.read_table(table, present, where, key)
        return [{**{f: "" for f in optional}, **r} for r in rows]


def parents(hierarchy: Sequence[Row], posid_of: dict[str, str]) -> dict[str, str]:
    """PRHI: PSPNR -> the parent element's POSID (UP is the parent's PSPNR; 0 is none)."""
    out = {}
    for row in hierarchy:
        up = row.get("UP", "").strip()
        if up and up.strip("0") and up in posid_of:
            out[row["POSNR"]] = posid_of[up]
    return out
