"""The sample world: a portfolio's fixed structure and its clock, derived from the settings.

Only what is small lives here (programs, projects, resources: O(projects + resources)); the
streams compute their records from it on demand. Every random choice is `mix(key, i)`, a
64-bit integer hash of the seed and an index, so record i is a pure function of
(settings, i) and no stream is ever built whole.

The clock: round 0 of every stream was loaded at `e0` (the day after the generated months
end), record i of a stream at `e0 + i seconds`. Round r >= 1 happens at `round_time(r)`, at
least 7 days after everything before it; its change of line i is at `round_time(r) + i ms`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pmo_ledger.connectors.sample.settings import SampleSettings

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15

#: Value of one unit of a currency in micro-USD (a rough 2025 level; the sample's cross rates
#: and FX streams are built around it).
USD_VALUE: dict[str, int] = {
    "USD": 1_000_000,
    "EUR": 1_085_000,
    "GBP": 1_270_000,
    "CHF": 1_130_000,
    "CAD": 735_000,
    "AUD": 660_000,
    "SGD": 745_000,
    "SEK": 95_000,
    "INR": 12_000,
    "JPY": 6_700,
}
ROLES = (
    ("Project Manager", "PMO", 110),
    ("Business Analyst", "Business Analysis", 85),
    ("Solution Architect", "Architecture", 130),
    ("Developer", "Engineering", 90),
    ("Senior Developer", "Engineering", 115),
    ("QA Engineer", "Quality", 70),
    ("DevOps Engineer", "Engineering", 100),
    ("Data Engineer", "Data", 105),
    ("UX Designer", "Design", 80),
    ("Consultant", "Advisory", 120),
)
FIRST = (
    "Maria", "Jonas", "Aisha", "Liam", "Sofia", "Noah", "Emma", "Lucas", "Chloe", "Mateo",
    "Priya", "Oliver", "Hannah", "Ethan", "Yuki", "Leon", "Amelia", "Rafael", "Zoe", "Omar",
)  # fmt: skip
LAST = (
    "Lopez", "Weber", "Khan", "Murphy", "Rossi", "Dubois", "Schmidt", "Nakamura", "Silva",
    "Jensen", "Patel", "Novak", "Brown", "Garcia", "Fischer", "Moreau", "Kowalski", "Walsh",
)  # fmt: skip
PROGRAMS = (
    "Digital Customer Experience", "Operations Modernization", "Data & Analytics",
    "Infrastructure Renewal", "Regulatory Compliance", "Workplace Transformation",
)  # fmt: skip
PROJECTS = (
    "Customer Portal Redesign", "Mobile App Launch", "ERP Finance Upgrade",
    "Warehouse Automation Pilot", "Data Lake Migration", "CRM Consolidation",
    "Payroll Outsourcing", "Network Refresh", "IFRS 17 Reporting", "Field Service App",
    "E-Invoicing Rollout", "Cloud Landing Zone", "Identity Management", "Supplier Portal",
    "Pricing Engine", "Call Center Replatform", "BI Self-Service", "Office Consolidation",
    "Cyber Resilience Program", "HR Suite Rollout", "Product Catalog Cleanup",
    "Treasury Automation", "Loyalty Program Relaunch", "Document Management",
)  # fmt: skip
STATUS_ACTIVE, STATUS_DONE, STATUS_HOLD = "Active", "Completed", "On Hold"
#: Percent of planned progress a `planted.slipping` project achieves (the others 85..104).
SLIPPING_PERF = 50


def mix(key: int, i: int) -> int:
    """A 64-bit hash of (key, i) (splitmix64 finalizer): fast, pure, well spread."""
    x = (key ^ (i * GOLDEN)) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def add_months(d: date, n: int) -> date:
    """The first day of the month n months after d's month."""
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def convert_cents(cents: int, from_ccy: str, to_ccy: str) -> int:
    """An amount in minor units re-expressed in another currency at the sample's cross rate."""
    if from_ccy == to_ccy:
        return cents
    return (cents * USD_VALUE[from_ccy] + USD_VALUE[to_ccy] // 2) // USD_VALUE[to_ccy]


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    index: int
    key: str
    name: str
    email: str
    role: str
    department: str
    currency: str
    rate_cents: int  # cost per hour from the start, in the resource's currency
    raise_cents: int  # cost per hour from raise_on
    raise_on: date
    active: bool


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    index: int
    key: str
    name: str
    program: int
    currency: str
    start: date  # planned
    finish: date  # planned
    status: str
    team: tuple[int, ...]  # resource indexes; team[0] manages
    perf: int  # percent of planned progress achieved (85..104)
    post_from: int  # ordinal of the first day actuals are posted on
    post_days: int  # days in the posting window
    slipping: bool = False  # planted: at half its pace, never finished (see percent_at)


class World:
    """The fixed part of a sample portfolio and its clock."""

    def __init__(self, settings: SampleSettings) -> None:
        s = self.settings = settings
        self.key = mix(0x5A3D1E, s.seed)
        self.window_start = s.start
        self.window_end = add_months(s.start, s.months)  # exclusive
        self.status_date = self.window_end - timedelta(days=1)
        self.month_starts = [add_months(s.start, m) for m in range(s.months)]
        self.e0 = datetime.combine(self.window_end, time(0), UTC)
        self.portfolio_code = re.sub(r"[^A-Z0-9]+", "-", s.portfolio.upper()).strip("-")[:40]
        self.resources = [self._resource(r) for r in range(s.resources)]
        self.team_size = min(6, s.resources)
        self.projects = [self._project(p) for p in range(s.projects)]
        self.project_index = {p.key: p.index for p in self.projects}
        self.slots = self._slots()

    # --- clock -----------------------------------------------------------------------------

    def configure_clock(self, largest_stream: int) -> None:
        """Rounds start after round 0 of the largest stream (records one second apart)."""
        days = -(-largest_stream // 86_400) + 7
        self.gap = timedelta(days=days)

    def round_time(self, r: int) -> datetime:
        """When round r's changes start (r >= 1); round 0 starts at e0."""
        return self.e0 + self.gap * r

    # --- structure -------------------------------------------------------------------------

    def h(self, salt: int, i: int) -> int:
        return mix(self.key ^ salt, i)

    def _resource(self, r: int) -> ResourceSpec:
        s, h = self.settings, self.h(0x52, r)
        role, department, usd_rate = ROLES[r % len(ROLES)]
        first, last = FIRST[h % len(FIRST)], LAST[(h >> 8) % len(LAST)]
        ccys = s.currencies
        pick = (h >> 16) % (len(ccys) + 1)
        currency = s.base_currency if pick == len(ccys) else ccys[pick]
        usd_cents = usd_rate * (90 + (h >> 24) % 21)  # 90%..110% of the role's rate
        # Rates are set in whole half-units of the resource's currency.
        cents = max(50, round(convert_cents(usd_cents, "USD", currency) / 50) * 50)
        raised = round(cents * (103 + (h >> 32) % 3) / 100 / 50) * 50
        return ResourceSpec(
            index=r,
            key=f"RES-{r + 1:04d}",
            name=f"{first} {last}",
            email=f"{first.lower()}.{last.lower()}.{r + 1}@example.com",
            role=role,
            department=department,
            currency=currency,
            rate_cents=cents,
            raise_cents=raised,
            raise_on=add_months(s.start, s.months // 2),
            active=(h >> 40) % 20 != 0,
        )

    def _project(self, p: int) -> ProjectSpec:
        s, h = self.settings, self.h(0x50, p)
        offset = h % max(1, (s.months + 1) // 2)
        length = 3 + (h >> 8) % max(1, s.months)
        start = add_months(s.start, offset) + timedelta(days=(h >> 16) % 10)
        finish = add_months(s.start, offset + length) - timedelta(days=1 + (h >> 20) % 10)
        finish = max(finish, start + timedelta(days=28))
        name = PROJECTS[p % len(PROJECTS)]
        if p >= len(PROJECTS):
            name = f"{name} {p // len(PROJECTS) + 1}"
        ccys = s.currencies
        pick = (h >> 24) % (len(ccys) + 1)
        status = STATUS_DONE if finish <= self.status_date else STATUS_ACTIVE
        if status == STATUS_ACTIVE and (h >> 28) % 11 == 0:
            status = STATUS_HOLD
        slipping = f"PRJ-{p + 1:04d}" == s.planted.slipping
        if slipping:
            status = STATUS_ACTIVE  # still running past its planned finish
        post_from = max(start, self.window_start).toordinal()
        post_to = min(finish, self.status_date).toordinal()
        n = s.resources
        key = f"PRJ-{p + 1:04d}"
        return ProjectSpec(
            index=p,
            key=key,
            name=name,
            program=p % s.programs,
            currency=s.base_currency if pick == len(ccys) else ccys[pick],
            start=start,
            finish=finish,
            status=status,
            team=tuple((p * self.team_size + k) % n for k in range(self.team_size)),
            perf=SLIPPING_PERF if slipping else 85 + (h >> 32) % 20,
            post_from=post_from,
            post_days=max(1, post_to - post_from + 1),
            slipping=slipping,
        )

    def _slots(self) -> list[int]:
        """A lookup table picking a project for an actual line, in proportion to its posting
        days times a size factor (1..4); every project gets at least one slot."""
        weights = [p.post_days * (1 + self.h(0x57, p.index) % 4) for p in self.projects]
        total = sum(weights)
        size = max(4096, 8 * len(self.projects))
        table: list[int] = []
        for p, w in enumerate(weights):
            table.extend([p] * max(1, round(w * size / total)))
        return table

    def task_window(self, p: ProjectSpec, slot: int) -> tuple[date, date]:
        """Planned [start, finish] of a task slot: phases split the project in four; leaves
        split their phase in two, except Development, which spans its whole phase."""
        days = (p.finish - p.start).days + 1
        phase, pos = divmod(slot, 3)
        first = p.start + timedelta(days * phase // 4)
        last = p.start + timedelta(days * (phase + 1) // 4 - 1)
        mid = first + timedelta((last - first).days // 2)
        if pos == 0:
            return first, last
        if pos == 1:
            return first, last if phase == 2 else mid
        return mid + timedelta(days=1), last

    def percent_at(self, project: ProjectSpec, start: date, finish: date, day: date) -> int:
        """Percent complete (in hundredths) of a piece of work planned [start, finish] as of
        `day`, at the project's performance; 100.00 once finished (a slipping project's work
        never is: it stops at its pace's share of the plan)."""
        if day < start:
            return 0
        if day >= finish and not project.slipping:
            return 10_000
        elapsed = min(day - start, finish - start).days * 10_000 // max(1, (finish - start).days)
        return min(9_999, elapsed * project.perf // 100)

    def months_between(self, start: date, finish: date) -> list[date]:
        """First days of the calendar months touching [start, finish]."""
        out, m = [], date(start.year, start.month, 1)
        while m <= finish:
            out.append(m)
            m = add_months(m, 1)
        return out
