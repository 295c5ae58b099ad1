"""The demo SAP system: one controlling area, two company codes, the PSA sample's projects
PRJ-0001..PRJ-0006 (the same codes; the names, dates and currencies are SAP's own, not those
of config/demo.toml's sample world) as PS projects with WBS elements, CO line items
(COBK/COEP) whose sums are the CO totals (COSP/COSS) per period, plan and budget, and
exchange rates. Deterministic.

What a reader must get right is in it on purpose:
- special periods: year-end postings in periods 13 and 16;
- plan version 000 (WRTTP 01) beside actuals (04), a what-if plan version 001 and a cost
  center's own postings (OBJNR `KS...`) that a WBS reader must leave out;
- a reversal that nets a period to zero (PRJ-0001.2, travel, period 4);
- secondary costs (COSS) from a cost center's activity allocation;
- a WBS description that contains the delimiter `|` (PRJ-0002.1) and a posting text and a
  description that fill their fields;
- budgets (WRTTP 41): original (KBUD) on the root WBS element that distributed 70% of it to
  its children, a supplement (KBN0), a return (KBR0, negative) and releases (KBFR, the same
  money again: PRJ-0001 80%, PRJ-0006 all), overall in BPGE and by year in BPJA, and
  structure plan (WRTTP 01) in BPJA;
- CPUDT/CPUTM a day after each posting date, rising with the document number (items mode);
- TCURR rates per month with inverted dates, one quotation stored indirectly (negative);
- with `dirty`: PRJ-0007, unknown to the PSA, and an internal order's posting.

With `world` (what `pmo-ledger sandbox --kind sap` and `make demo` serve, see
`erp_mirror.py`) the year's random postings give way to the sample world's expense lines,
so the demo's `erp~fin` pair agrees; the traps above stay (none is on a compared cost element
but the year-end accrual), and the year-end accrual on PRJ-0003 (periods 13 and 16, after the
project ended in the PSA) is larger: the one planted difference, SAP's accrual the ERP never
saw (`DEMO_ACCRUAL`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from pmo_ledger.connectors.sap.sandbox.postings import (
    CENT,
    KOKRS,
    CoObject,
    CostObject,
    Postings,
    co_total_row,
    rate,
    to_co_currency,
)
from pmo_ledger.connectors.sap.sandbox.system import LogonUser, SapSystem

if TYPE_CHECKING:
    from pmo_ledger.connectors.sap.sandbox.erp_mirror import PsaWorld

CLIENT = "100"
YEAR = 2025
USER = LogonUser("RFC_PMO", "Sandbox-2025!", CLIENT)
"""The demo's RFC user (S_RFC for RFC_READ_TABLE, S_TABU_DIS for the PS/CO tables)."""

COMPANY_CODES = {
    "1000": ("PMO Demo GmbH", "Berlin", "DE", "EUR"),
    "2000": ("PMO Demo Inc.", "New York", "US", "USD"),
}

COST_ELEMENTS = {
    "0000400000": "Consumption, raw material",
    "0000417000": "Purchased services",
    "0000430000": "Salaries",
    "0000474000": "Travel expenses",
    "0000476000": "Software licenses",
    "0000943000": "Internal activity allocation",
}
COST_CENTER = "0000004200"
COST_CENTER_OBJNR = f"KS{KOKRS}{COST_CENTER}"

# (code, name, company code, start, end, currency, budget, WBS children)
# fmt: off
_PROJECTS = (
    ("PRJ-0001", "Acme ERP Cloud Migration", "1000", date(2025, 1, 6), date(2025, 9, 30),
     "EUR", "480000.00", ("Solution design", "Data migration", "Cutover")),
    ("PRJ-0002", "Acme Data Warehouse", "1000", date(2025, 2, 3), date(2025, 8, 29), "EUR",
     "220000.00", ("Extract | Load design", "Reporting")),
    ("PRJ-0003", "Globex POS Rollout", "2000", date(2025, 1, 6), date(2025, 12, 19), "USD",
     "350000.00", ("Store pilots", "Roll-out waves")),
    ("PRJ-0004", "Globex Analytics Platform", "2000", date(2025, 6, 2), date(2025, 11, 28),
     "USD", "180000.00", ("Platform build",)),
    ("PRJ-0005", "Initech Core Banking Upgrade", "1000", date(2025, 1, 13),
     date(2025, 10, 31), "GBP", "610000.00", ("Core upgrade", "Testing")),
    ("PRJ-0006", "Initech Security Assessment", "2000", date(2025, 1, 6), date(2025, 3, 28),
     "USD", "95000.50", ("Assessment",)),
)
_DIRTY_PROJECT = ("PRJ-0007", "Data Center Exit", "1000", date(2025, 2, 3), date(2025, 6, 30),
                  "EUR", "90000.00", ("Move planning",))
# fmt: on


@dataclass(frozen=True, slots=True)
class Wbs:
    """One seeded WBS element."""

    pspnr: str
    posid: str
    name: str
    project: str
    company_code: str
    currency: str
    level: int
    parent: str | None

    @property
    def objnr(self) -> str:
        """The CO object number: 'PR' + the internal number."""
        return f"PR{self.pspnr}"


@dataclass
class SeedSummary:
    """What the seed made: projects by code (PSPNR), WBS elements by POSID, documents."""

    projects: dict[str, str] = field(default_factory=dict)
    wbs: dict[str, Wbs] = field(default_factory=dict)
    documents: list[str] = field(default_factory=list)
    reversed_document: str = ""
    reversal_document: str = ""


INTERNAL_ORDER_OBJNR = "OR000000400001"


def seed_demo(
    system: SapSystem, *, dirty: bool = False, world: PsaWorld | None = None
) -> SeedSummary:
    """Fill `system` with the demo; what was made. `dirty` adds what a reader must route or
    leave out: PRJ-0007, a project the PSA does not know (its postings load as unmapped), and
    an internal order's posting (OBJNR `OR...`). `world`: the actuals are that sample world's
    expense lines (`erp_mirror`) and the year-end accrual is `DEMO_ACCRUAL`; None: random
    postings (seed 21)."""
    system.add_user(USER)
    summary = SeedSummary()
    _config(system)
    projects = _PROJECTS + ((_DIRTY_PROJECT,) if dirty else ())
    for number, (code, name, bukrs, start, end, currency, budget, children) in enumerate(
        projects, start=1
    ):
        pspnr = f"{number:08d}"
        summary.projects[code] = pspnr
        system.insert(
            "PROJ",
            {
                "PSPNR": pspnr,
                "PSPID": code,
                "POST1": name,
                "OBJNR": f"PD{pspnr}",
                "ERNAM": "PMO_ADMIN",
                "ERDAT": start - timedelta(days=30),
                "AEDAT": start - timedelta(days=2),
                "VERNR": f"{number:08d}",
                "VBUKR": bukrs,
                "VKOKR": KOKRS,
                "PRCTR": f"PC{bukrs}",
                "PWHIE": currency,
                "PROFL": "PS00001",
                "PLFAZ": start,
                "PLSEZ": end,
            },
        )
        root = Wbs(f"{number * 100 + 1:08d}", code, name, pspnr, bukrs, currency, 1, None)
        elements = [root]
        for index, child in enumerate(children, start=1):
            elements.append(
                Wbs(
                    f"{number * 100 + 1 + index:08d}",
                    f"{code}.{index}",
                    child,
                    pspnr,
                    bukrs,
                    currency,
                    2,
                    root.pspnr,
                )
            )
        if code == "PRJ-0001":
            elements.append(
                Wbs(
                    f"{number * 100 + 9:08d}",
                    f"{code}.1.1",
                    "Solution design workshops with the business, every site and every team"[:40],
                    pspnr,
                    bukrs,
                    currency,
                    3,
                    elements[1].pspnr,
                )
            )
        for element in elements:
            add_wbs(system, element, start)
            summary.wbs[element.posid] = element
        _budget(system, elements, Decimal(budget))
    postings = Postings(system)
    postings.deferred = True
    _actuals(postings, summary, world)
    if dirty:
        postings.post(
            CoObject(INTERNAL_ORDER_OBJNR, "1000", "EUR"),
            "0000417000",
            Decimal("1500.00"),
            date(YEAR, 3, 10),
            text="Trade fair booth",
        )
    postings.deferred = False
    _plan(system, summary)
    postings.rebuild_totals()
    return summary


def add_wbs(system: SapSystem, element: Wbs, created: date) -> None:
    """One WBS element in PRPS and its place in PRHI (appended as the last child)."""
    system.insert(
        "PRPS",
        {
            "PSPNR": element.pspnr,
            "POSID": element.posid,
            "POST1": element.name,
            "OBJNR": element.objnr,
            "PSPHI": element.project,
            "POSKI": element.posid.replace("PRJ-", "P")[:16],
            "ERNAM": "PMO_ADMIN",
            "ERDAT": created - timedelta(days=30),
            "AEDAT": created - timedelta(days=2),
            "PBUKR": element.company_code,
            "PKOKR": KOKRS,
            "PRCTR": f"PC{element.company_code}",
            "PRART": "01",
            "STUFE": element.level,
            "PLAKZ": "X",
            "BELKZ": "X",
            "FAKKZ": "X" if element.level == 1 else "",
        },
    )
    siblings = [
        row
        for row in system.rows("PRHI")
        if row["UP"] == (element.parent or "00000000")
        and row["PSPHI"] == element.project
        and row["RIGHT"] == "00000000"
        and row["POSNR"] != element.pspnr
    ]
    left = siblings[0]["POSNR"] if siblings else None
    system.insert(
        "PRHI",
        {
            "POSNR": element.pspnr,
            "PSPHI": element.project,
            "UP": element.parent,
            "DOWN": None,
            "LEFT": left,
            "RIGHT": None,
        },
    )
    if left is not None:
        system.insert(
            "PRHI",
            {**{k: v for k, v in siblings[0].items() if k != "MANDT"}, "RIGHT": element.pspnr},
        )
    elif element.parent is not None:
        parent = next(r for r in system.rows("PRHI") if r["POSNR"] == element.parent)
        system.insert(
            "PRHI", {**{k: v for k, v in parent.items() if k != "MANDT"}, "DOWN": element.pspnr}
        )


def _config(system: SapSystem) -> None:
    system.insert(
        "TKA01",
        {
            "KOKRS": KOKRS,
            "BEZEI": "PMO Demo Controlling",
            "WAERS": "EUR",
            "KTOPL": "INT",
            "LMONA": "K4",
        },
    )
    for bukrs, (name, city, country, currency) in COMPANY_CODES.items():
        system.insert(
            "T001",
            {
                "BUKRS": bukrs,
                "BUTXT": name,
                "ORT01": city,
                "LAND1": country,
                "WAERS": currency,
                "KTOPL": "INT",
                "PERIV": "K4",
            },
        )
    system.insert(
        "AUFK",
        {
            "AUFNR": INTERNAL_ORDER_OBJNR[2:],
            "AUART": "Z100",
            "AUTYP": 1,
            "KTEXT": "Trade fair 2025",
            "BUKRS": "1000",
            "KOKRS": KOKRS,
            "WAERS": "EUR",
            "OBJNR": INTERNAL_ORDER_OBJNR,
            "PRCTR": "PC1000",
            "ERDAT": date(2025, 1, 20),
            "AEDAT": date(2025, 1, 20),
        },
    )
    system.insert(
        "CSKS",
        {
            "KOKRS": KOKRS,
            "KOSTL": COST_CENTER,
            "DATBI": date(9999, 12, 31),
            "DATAB": date(2024, 1, 1),
            "BUKRS": "1000",
            "PRCTR": "PC1000",
            "WAERS": "EUR",
            "OBJNR": COST_CENTER_OBJNR,
        },
    )
    for month in range(1, 13):
        day = date(YEAR, month, 1)
        gdatu = str(99999999 - int(day.strftime("%Y%m%d")))
        for currency in ("USD", "GBP"):
            system.insert(
                "TCURR",
                {
                    "KURST": "M",
                    "FCURR": currency,
                    "TCURR": "EUR",
                    "GDATU": gdatu,
                    "UKURS": rate(currency, day),
                    "FFACT": 1,
                    "TFACT": 1,
                },
            )
        per_eur = (Decimal(1) / rate("USD", day)).quantize(Decimal("0.00001"), ROUND_HALF_UP)
        system.insert(
            "TCURR",
            {
                "KURST": "M",
                "FCURR": "EUR",
                "TCURR": "USD",
                "GDATU": gdatu,
                "UKURS": per_eur,
                "FFACT": 1,
                "TFACT": 1,
            },
        )
        # An indirect quotation: a negative UKURS means 1 / |UKURS|.
        system.insert(
            "TCURR",
            {
                "KURST": "M",
                "FCURR": "EUR",
                "TCURR": "GBP",
                "GDATU": gdatu,
                "UKURS": -rate("GBP", day),
                "FFACT": 1,
                "TFACT": 1,
            },
        )


def set_budget(
    system: SapSystem, element: Wbs, amount: Decimal, *, vorga: str = "KBUD", year: int = YEAR
) -> None:
    """A WBS element's budget of one budget type (value type 41): overall in BPGE, annual in
    BPJA, in its currency and the controlling area's."""
    co_amount = to_co_currency(amount, element.currency, date(year, 1, 1))
    key = {
        "LEDNR": "0001",
        "OBJNR": element.objnr,
        "TRGKZ": "B",
        "WRTTP": "41",
        "VERSN": "000",
        "VORGA": vorga,
        "TWAER": element.currency,
    }
    system.insert("BPGE", {**key, "WTGES": amount, "WLGES": co_amount})
    system.insert("BPJA", {**key, "GJAHR": year, "WTJHR": amount, "WLJHR": co_amount})


def _budget(system: SapSystem, elements: list[Wbs], total: Decimal) -> None:
    """The root holds the whole budget; it distributed 70% to its level-2 children. PRJ-0003
    got a supplement (KBN0, root and first child), PRJ-0002's last child returned some
    (KBR0, negative), PRJ-0001 released 80% of its root's and its children's budgets and
    PRJ-0006 all of them (KBFR: the same money again, which a reader must not add to the
    budget; its `released` version). Each in BPGE (overall) and BPJA (the year)."""
    root, children = elements[0], [e for e in elements if e.level == 2]
    share = (total * Decimal("0.70") / len(children)).quantize(CENT, ROUND_HALF_UP)
    values = [(root, "KBUD", total)] + [(child, "KBUD", share) for child in children]
    if root.posid == "PRJ-0003":
        values += [(root, "KBN0", Decimal("10000.00")), (children[0], "KBN0", Decimal("10000.00"))]
    if root.posid == "PRJ-0002":
        values += [(children[-1], "KBR0", Decimal("-5000.00"))]
    if root.posid == "PRJ-0001":  # 80% released, down the hierarchy as CJ32 releases it
        values += [(root, "KBFR", (total * Decimal("0.8")).quantize(CENT))]
        values += [(child, "KBFR", (share * Decimal("0.8")).quantize(CENT)) for child in children]
    if root.posid == "PRJ-0006":  # finished in March: released in full
        values += [(root, "KBFR", total)] + [(child, "KBFR", share) for child in children]
    for element, vorga, amount in values:
        set_budget(system, element, amount, vorga=vorga)
    for element in elements:
        plan = (total * Decimal("0.9") / len(elements)).quantize(CENT, ROUND_HALF_UP)
        system.insert(
            "BPJA",
            {
                "LEDNR": "0001",
                "OBJNR": element.objnr,
                "TRGKZ": "B",
                "WRTTP": "01",
                "GJAHR": YEAR,
                "VERSN": "000",
                "VORGA": "KSTP",
                "TWAER": element.currency,
                "WTJHR": plan,
                "WLJHR": to_co_currency(plan, element.currency, date(YEAR, 1, 1)),
            },
        )


# fmt: off
def _actuals(postings: Postings, summary: SeedSummary, world: PsaWorld | None) -> None:
    """The year's postings, entered in date order (so CPUDT/CPUTM follow the posting dates,
    as a delta reader by entry time expects), the travel and its reversal among them."""
    planned = _random_postings(summary) if world is None else _mirrored(summary, world)
    singles = _SINGLE_POSTINGS if world is None else (
        _SINGLE_POSTINGS[:1] + DEMO_ACCRUAL + _SINGLE_POSTINGS[3:])
    for posid, kstar, value, day, period, text, partner in singles:
        planned.append((day, summary.wbs[posid], kstar, Decimal(value), period, text, partner))
    # A cost center's own posting: not a WBS element's.
    planned.append((date(YEAR, 2, 28), CoObject(COST_CENTER_OBJNR, "1000", "EUR"),
                    "0000430000", Decimal("31000.00"), None, "Cost center salaries", ""))
    travel_day, reversal_day = date(YEAR, 4, 10), date(YEAR, 4, 24)
    for day, target, kstar, amount, period, text, partner in sorted(planned, key=lambda p: p[0]):
        if summary.reversed_document and not summary.reversal_document and day > reversal_day:
            summary.reversal_document = postings.reverse(summary.reversed_document, reversal_day)
        if not summary.reversed_document and day > travel_day:
            summary.reversed_document = postings.post(
                summary.wbs["PRJ-0001.2"], "0000474000", Decimal("5000.00"), travel_day,
                text="Travel Berlin-Lisbon (posted twice)")
        number = postings.post(target, kstar, amount, day, period=period, text=text,
                               partner=partner)
        if target.objnr.startswith("PR"):
            summary.documents.append(number)


def _random_postings(summary: SeedSummary) -> list[_Planned]:
    """Two random postings (salaries, purchased services) a month on most WBS elements."""
    rng = random.Random(21)  # noqa: S311 - demo data, not secrets
    spans = {p[0]: (p[3], p[4]) for p in (*_PROJECTS, _DIRTY_PROJECT)}
    planned: list[_Planned] = []
    for element in summary.wbs.values():
        if element.level == 1 and element.posid != "PRJ-0003":
            continue
        start, end = spans[element.posid[:8]]
        for month in range(1, 13):
            day = date(YEAR, month, min(28, 3 + rng.randrange(20)))
            if not start <= day <= end or rng.random() < 0.25:
                continue
            for kstar in ("0000430000", "0000417000"):
                amount = Decimal(rng.randrange(50_000, 2_500_000)) / 100
                planned.append((day, element, kstar, amount, None,
                                f"{COST_ELEMENTS[kstar]} {day:%b}", ""))
    return planned


def _mirrored(summary: SeedSummary, world: PsaWorld) -> list[_Planned]:
    """The world's expense lines on their projects' level-2 WBS elements (the n-th line on
    child n mod the children), in the company code's currency at the PSA's rates."""
    from pmo_ledger.connectors.sap.sandbox.erp_mirror import COST_ELEMENT, world_expenses
    from pmo_ledger.connectors.workfront.sandbox.psa_mirror import in_currency

    expenses, rates = world_expenses(world)
    children: dict[str, list[Wbs]] = {}
    for element in summary.wbs.values():
        if element.level == 2:
            children.setdefault(element.posid[:8], []).append(element)
    planned: list[_Planned] = []
    for n, line in enumerate(expenses):
        elements = children.get(line.project)
        if not elements:
            continue  # not one of the demo's projects
        target = elements[n % len(elements)]
        currency = COMPANY_CODES[target.company_code][3]
        amount = in_currency(line.amount, line.currency, currency, line.day, rates)
        planned.append((line.day, CoObject(target.objnr, target.company_code, currency),
                        COST_ELEMENT[line.cost_type], amount, None,
                        f"{line.text} {line.line}", ""))
    return planned

_Planned = tuple[date, CostObject, str, Decimal, int | None, str, str]
"""A posting to make: date, object, cost element, amount, period (None: the month), text,
partner object."""

# WBS element, cost element, amount, date, period (None: the month), text, partner object
_SINGLE_POSTINGS = (
    ("PRJ-0001.1", "0000943000", "8400.00", date(YEAR, 3, 31), None, "Architect hours",
     COST_CENTER_OBJNR),
    ("PRJ-0003", "0000417000", "12500.00", date(YEAR, 12, 31), 13,
     "Year-end accrual, store pilots", ""),
    ("PRJ-0003", "0000417000", "-2500.00", date(YEAR, 12, 31), 16,
     "Audit adjustment: accrual too high", ""),
    ("PRJ-0001.1.1", "0000400000", "987654.32", date(YEAR, 5, 15), None,
     "Hardware for every site of the migration, ordered..", ""),
)
#: The demo's planted difference (with `world`): a year-end accrual for PRJ-0003's store
#: pilots in special period 13, corrected in 16, that the ERP never saw, on a project the PSA
#: closed in August: 45,000.00 USD in 2025-12 (the periods fold into 12 in the demo ledger).
DEMO_ACCRUAL = (
    ("PRJ-0003", "0000417000", "50000.00", date(YEAR, 12, 31), 13,
     "Year-end accrual, store pilots", ""),
    ("PRJ-0003", "0000417000", "-5000.00", date(YEAR, 12, 31), 16,
     "Audit adjustment: accrual too high", ""),
)
# fmt: on


def _plan(system: SapSystem, summary: SeedSummary) -> None:
    """Plan version 000 (and a what-if version 001) per WBS element, monthly."""
    for element in summary.wbs.values():
        base = Decimal(10_000 + int(element.pspnr) * 7 % 900 * 10)
        values = {period: base for period in range(1, 13)}
        for version, factor in (("000", Decimal(1)), ("001", Decimal("1.2"))):
            system.insert(
                "COSP",
                co_total_row(
                    objnr=element.objnr,
                    wrttp="01",
                    versn=version,
                    kstar="0000430000",
                    vrgng="RKP1",
                    twaer=element.currency,
                    transaction={p: v * factor for p, v in values.items()},
                    co_area={
                        p: to_co_currency(v * factor, element.currency, date(YEAR, p, 1))
                        for p, v in values.items()
                    },
                    year=YEAR,
                ),
            )
