"""Postings in the fake system's CO: a document (COBK) with its line (COEP), its reversal, its
move to another period (reversed, then posted again in the new period, as SAP does it: a
posted CO document is never edited), and the totals (COSP for primary, COSS for secondary
cost elements) rebuilt from the line items, so they always equal their sums per period.

Money: the transaction and object currency is the WBS element's; the controlling area
currency (WKG, what the totals readers use) is EUR at the month's TCURR rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from pmo_ledger.connectors.sap.sandbox.tables import PERIODS

KOKRS = "1000"
CO_CURRENCY = "EUR"
CENT = Decimal("0.01")
_PER_EUR = {"USD": Decimal("1.08"), "GBP": Decimal("0.84")}
_FIRST_BELNR = 100000000
_STAMP = "%Y%m%d%H%M%S"


class CostObject(Protocol):
    """What a posting needs of its object (a seeded WBS element, a `CoObject`)."""

    @property
    def objnr(self) -> str: ...

    @property
    def company_code(self) -> str: ...

    @property
    def currency(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CoObject:
    """Any CO object by its number (a cost center `KS...`, an order `OR...`)."""

    objnr: str
    company_code: str
    currency: str


def _posted_on(line: Mapping[str, str]) -> CoObject:
    return CoObject(line["OBJNR"], line["BUKRS"], line["TWAER"])


def rate(currency: str, on: date) -> Decimal:
    """EUR per unit of `currency` in the month of `on` (the seed's TCURR rate type M)."""
    if currency == CO_CURRENCY:
        return Decimal(1)
    drift = Decimal(on.month - 6) / Decimal(1000)
    return (Decimal(1) / (_PER_EUR[currency] + drift)).quantize(Decimal("0.00001"), ROUND_HALF_UP)


def to_co_currency(amount: Decimal, currency: str, on: date) -> Decimal:
    """An amount in the controlling area's currency (EUR) at the month's rate."""
    if currency == CO_CURRENCY:
        return amount
    return (amount * rate(currency, on)).quantize(CENT, ROUND_HALF_UP)


def co_total_row(
    *,
    objnr: str,
    wrttp: str,
    versn: str,
    kstar: str,
    vrgng: str,
    twaer: str,
    transaction: Mapping[int, Decimal],
    co_area: Mapping[int, Decimal],
    year: int,
    beknz: str = "S",
) -> dict[str, Any]:
    """One COSP/COSS row: per-period values (transaction = object currency here)."""
    row: dict[str, Any] = {
        "LEDNR": "00",
        "OBJNR": objnr,
        "GJAHR": year,
        "WRTTP": wrttp,
        "VERSN": versn,
        "KSTAR": kstar,
        "VRGNG": vrgng,
        "BEKNZ": beknz,
        "TWAER": twaer,
        "PERBL": "016",
    }
    for period in PERIODS:
        row[f"WTG{period:03d}"] = transaction.get(period, Decimal(0))
        row[f"WOG{period:03d}"] = transaction.get(period, Decimal(0))
        row[f"WKG{period:03d}"] = co_area.get(period, Decimal(0))
    return row


class Postings:
    """Posts, reverses and moves CO documents in one system (client 100)."""

    def __init__(self, system: SapSystem, *, user: str = "PMO_POSTER") -> None:
        self.system = system
        self.user = user
        self.deferred = False  # True: totals are rebuilt once, by the caller (a bulk load)

    def _next_belnr(self) -> str:
        last = self.system.greatest("COBK", "BELNR")
        return f"{(int(last) if last else _FIRST_BELNR) + 1:010d}"

    def _entered(self, day: date) -> datetime:
        """The entry time of a new document: the day after posting at 09:00, never before
        the last document's entry (the CPUDT/CPUTM a delta reader follows)."""
        wanted = datetime.combine(day + timedelta(days=1), datetime.min.time()).replace(hour=9)
        last = self.system.greatest("COBK", "CPUDT", "CPUTM")
        if not last:
            return wanted
        latest = datetime.strptime(last, _STAMP)  # noqa: DTZ007 - SAP's local entry time
        return max(wanted, latest + timedelta(minutes=1))

    def post(
        self,
        target: CostObject,
        kstar: str,
        amount: Decimal,
        day: date,
        *,
        period: int | None = None,
        text: str = "",
        partner: str = "",
        reverses: str = "",
        beknz: str | None = None,
    ) -> str:
        """Post `amount` (object currency) on the object's cost element `kstar` on `day`
        (period: the month unless given, e.g. 13-16); the document number."""
        objnr, bukrs, currency = target.objnr, target.company_code, target.currency
        belnr = self._next_belnr()
        entered = self._entered(day)
        perio = period or day.month
        vrgng = "RKL" if partner else "COIN"
        self.system.insert(
            "COBK",
            {
                "KOKRS": KOKRS,
                "BELNR": belnr,
                "GJAHR": day.year,
                "VERSN": "000",
                "VRGNG": vrgng,
                "BLDAT": day,
                "BUDAT": day,
                "PERAB": perio,
                "PERBI": perio,
                "CPUDT": entered.date(),
                "CPUTM": entered.time(),
                "USNAM": self.user,
                "BLTXT": text[:50],
                "REFBN": reverses,
                "STFLG": "X" if reverses else "",
            },
        )
        self.system.insert(
            "COEP",
            {
                "KOKRS": KOKRS,
                "BELNR": belnr,
                "BUZEI": 1,
                "PERIO": perio,
                "WTGBTR": amount,
                "WOGBTR": amount,
                "WKGBTR": to_co_currency(amount, currency, day),
                "LEDNR": "00",
                "OBJNR": objnr,
                "GJAHR": day.year,
                "WRTTP": "04",
                "VERSN": "000",
                "KSTAR": kstar,
                "VRGNG": vrgng,
                "PAROB": partner,
                "USPOB": partner,
                "BEKNZ": beknz or ("S" if amount >= 0 else "H"),
                "BELTP": 1,
                "TWAER": currency,
                "OWAER": currency,
                "SGTXT": text[:50],
                "BUKRS": bukrs,
                "GKONT": "" if partner else "0000160000",
            },
        )
        if not self.deferred:
            self.rebuild_totals()
        return belnr

    def _line(self, belnr: str) -> dict[str, str]:
        return next(row for row in self.system.rows("COEP") if row["BELNR"] == belnr)

    def reverse(self, belnr: str, day: date | None = None) -> str:
        """Reverse a document in its own period (a new document with the negated amount);
        the reversal's number."""
        line = self._line(belnr)
        header = next(row for row in self.system.rows("COBK") if row["BELNR"] == belnr)
        when = day or date.fromisoformat(header["BUDAT"])
        reversal = self.post(
            _posted_on(line),
            line["KSTAR"],
            -Decimal(line["WTGBTR"]),
            when,
            period=int(line["PERIO"]),
            text=f"Reversal of {belnr}",
            partner=line["PAROB"],
            reverses=belnr,
            beknz=line["BEKNZ"],
        )
        self.system.insert("COBK", {**_fields(header), "STOKZ": "X"})
        return reversal

    def move(self, belnr: str, period: int, day: date) -> tuple[str, str]:
        """Move a posting to another period: reversed in its period, posted again in
        `period` on `day`; the reversal's and the new document's numbers."""
        line = self._line(belnr)
        reversal = self.reverse(belnr)
        moved = self.post(
            _posted_on(line),
            line["KSTAR"],
            Decimal(line["WTGBTR"]),
            day,
            period=period,
            text=line["SGTXT"],
            partner=line["PAROB"],
        )
        return reversal, moved

    def rebuild_totals(self) -> None:
        """COSP and COSS actual rows (WRTTP 04) as the sums of the COEP line items."""
        groups: dict[tuple[str, ...], dict[str, dict[int, Decimal]]] = defaultdict(
            lambda: {"WTG": defaultdict(Decimal), "WKG": defaultdict(Decimal)}
        )
        for line in self.system.rows("COEP"):
            if line["WRTTP"] != "04":
                continue
            key = (
                line["OBJNR"],
                line["GJAHR"],
                line["KSTAR"],
                line["VRGNG"],
                line["BEKNZ"],
                line["TWAER"],
                line["PAROB"],
            )
            period = int(line["PERIO"])
            groups[key]["WTG"][period] += Decimal(line["WTGBTR"])
            groups[key]["WKG"][period] += Decimal(line["WKGBTR"])
        self.system.delete("COSP", {"WRTTP": "04"})
        self.system.delete("COSS", {"WRTTP": "04"})
        for (objnr, year, kstar, vrgng, beknz, twaer, parob), values in groups.items():
            row = co_total_row(
                objnr=objnr,
                wrttp="04",
                versn="000",
                kstar=kstar,
                vrgng=vrgng,
                twaer=twaer,
                transaction=values["WTG"],
                co_area=values["WKG"],
                year=int(year),
                beknz=beknz,
            )
            if parob:
                self.system.insert("COSS", {**row, "PAROB": parob, "USPOB": parob})
            else:
                self.system.insert("COSP", row)


def _fields(row: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in row.items() if name != "MANDT"}
