"""The demo account: a portfolio a PMO would recognise, deterministic from a seed.

- ROLE (5, with `costPerHour`/`billingPerHour`) and USER (12 people, some with their own
  `costPerHour`, some only their role's; plus the API user).
- PORT "Client Delivery" (USD) and "Internal Change" (EUR); PRGM one per client and one
  internal; PROJ: the PSA sample's PRJ-0001..PRJ-0006 (same names, dates and currencies as the
  other sandboxes) and two Workfront-only projects. The PSA code is in the custom field
  `DE:PSA Project Code` (`fields=DE:PSA Project Code` or `parameterValues`); `referenceNumber`
  is Workfront's own integer. PRJ-0004 has a null `currency`. Budgets are `budget`.
- TASK: per project a WBS of four phases and twelve leaf tasks (`wbs` 1, 1.1 ...), durations
  in days (`duration`, `durationUnit` D; `durationMinutes` = days x 480) with optimistic and
  pessimistic durations in `DE:Optimistic Duration`/`DE:Pessimistic Duration` (days) for
  three-point estimates, `workRequired` in minutes and `work` in hours.
- PRED: finish-start chains with lags, and `ss`, `ff` and `sf` links; one cross-project link
  (PRJ-0002's first build sprint waits on PRJ-0001's solution design).
- ASSGN: one or two people per leaf task with planned minutes (`workRequired`).
- HOUR: `hours` people logged on started tasks between the project's start and the as-of date
  (2025-06-30), statuses `APP` (approved), `SUB` (submitted) and `REJ` (rejected); hours of
  PRJ-0001..0003 carry `actualCost` (hours x the person's rate), the others none; three
  general hours with no project; five hours deleted (journaled `D`) and logged again.
- EXPNS: travel, software and hardware per project (`actualAmount` with cents, `effectiveDate`).
- `dirty`: rows a connector must quarantine, each with its reason in `DemoSeed.dirty`.
- `psa` (the demo's, `DEMO_PSA`, when `pmo-ledger sandbox --kind workfront` serves it): people
  log their hours in Workfront and the same hours reach the PSA's timecards. The hours drawn
  above for PRJ-0001..PRJ-0006 give way to the PSA sample's labor lines (`psa_mirror`), each
  an approved HOUR of the same person (a USER per sample resource, `DemoSeed.psa_users`), on
  the same day, with the same hours and `actualCost` the line's amount in the project's
  currency at the PSA's own rates (a null currency is `ACCOUNT_CURRENCY`), on the leaf task
  whose dates hold the day (else the nearest); the Workfront-only projects keep their hours.
  Planted (`UNSENT`): a contractor the PSA does not know logs 6 hours every weekday on
  PRJ-0001 from 2025-03-03 to 2025-04-25, approved in Workfront and never carried to the PSA
  (`DemoSeed.unsent_hours`): the demo's psa~pm source disagreement. The account's clock moves
  to the evening after the PSA's last day (2025-12-31), so no hour lies in its future.

Hour status codes (`APP`, `SUB`, `REJ`) are what Workfront's Hour status shows as Approved,
Submitted and Rejected ("Not Approved"); the codes themselves are UNVERIFIED (fact sheet 6).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from pmo_ledger.connectors.workfront.sandbox.psa_mirror import (
    ACCOUNT_CURRENCY,
    PsaWorld,
    in_currency,
    psa_timecards,
)
from pmo_ledger.connectors.workfront.sandbox.store import FakeWorkfront
from pmo_ledger.connectors.workfront.sandbox.values import Value

#: The day the demo's work stops (hours are logged up to it).
AS_OF = date(2025, 6, 30)
#: Hours the demo seed logs (before deletions and re-logs); `hours=` asks for more.
DEFAULT_HOURS = 2400
APPROVED, SUBMITTED, REJECTED = "APP", "SUB", "REJ"
_MINUTES_PER_DAY = 480
_CENT = Decimal("0.01")
_LAST_STAMP = datetime.combine(AS_OF, time(20), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Project:
    code: str | None
    name: str
    program: int
    status: str
    start: date
    end: date
    currency: str | None
    budget: str
    team: tuple[int, ...]  # indexes into _USERS


_ROLES = [  # name, cost, billing
    ("Project Manager", "95.00", "185.00"),
    ("Solution Architect", "120.00", "240.00"),
    ("Senior Consultant", "85.50", "165.00"),
    ("Consultant", "65.00", "125.00"),
    ("Analyst", "48.75", "95.00"),
]
_USERS = [  # first, last, role, own cost per hour (None: the role's)
    ("Alice", "Martin", 0, "98.00"), ("Bruno", "Keller", 1, None),
    ("Chloe", "Dubois", 2, "88.25"), ("Dev", "Patel", 3, None),
    ("Emma", "Schulz", 4, None), ("Farid", "Haddad", 2, None),
    ("Grace", "Okafor", 0, None), ("Hiro", "Tanaka", 1, "131.40"),
    ("Ines", "Costa", 3, "61.10"), ("Jonas", "Berg", 4, None),
    ("Kara", "Nowak", 2, None), ("Liam", "Walsh", 3, None),
]  # fmt: skip
_PORTFOLIOS = [("Client Delivery", "USD", "2500000.00"), ("Internal Change", "EUR", "400000.00")]
_PROGRAMS = [
    ("Acme Programme", 0),
    ("Globex Programme", 0),
    ("Initech Programme", 0),
    ("Operations Excellence", 1),
]
_PROJECTS = [_Project(*p) for p in [
    ("PRJ-0001", "Acme ERP Cloud Migration", 0, "CUR", date(2025, 1, 6), date(2025, 9, 30),
     "EUR", "480000.00", (0, 1, 5, 3)),
    ("PRJ-0002", "Acme Data Warehouse", 0, "CUR", date(2025, 2, 3), date(2025, 8, 29), "EUR",
     "220000.00", (2, 4)),
    ("PRJ-0003", "Globex POS Rollout", 1, "CUR", date(2025, 1, 6), date(2025, 12, 19), "USD",
     "350000.00", (6, 9, 11)),
    ("PRJ-0004", "Globex Analytics Platform", 1, "PLN", date(2025, 6, 2), date(2025, 11, 28),
     None, "180000.00", (8, 10)),
    ("PRJ-0005", "Initech Core Banking Upgrade", 2, "CUR", date(2025, 1, 13),
     date(2025, 10, 31), "GBP", "610000.00", (0, 3, 4)),
    ("PRJ-0006", "Initech Security Assessment", 2, "CPL", date(2025, 1, 6), date(2025, 3, 28),
     "USD", "95000.50", (7, 9)),
    (None, "Workfront Rollout", 3, "CUR", date(2024, 11, 4), date(2025, 7, 31), "EUR",
     "120000.00", (6, 11, 1)),
    (None, "Service Desk Consolidation", 3, "ONH", date(2025, 3, 3), date(2025, 9, 26), "EUR",
     "75000.00", (10, 5)),
]]  # fmt: skip
#: The WBS: phases and their leaf tasks (name, days, share of a person's day).
_WBS = [
    ("Initiate", [("Kick-off and charter", 3), ("Requirements workshops", 8)]),
    ("Design", [("Solution design", 10), ("Design review", 2)]),
    ("Build", [("Build sprint 1", 15), ("Build sprint 2", 15), ("Data migration", 12)]),
    (
        "Deploy",
        [
            ("System test", 10),
            ("User acceptance test", 8),
            ("Go-live", 1),
            ("Hypercare", 10),
            ("Legacy decommission", 5),
        ],
    ),
]
#: Links between leaf tasks (indexes in WBS order): predecessor, successor, type, lag days.
_LINKS = [
    (0, 1, "fs", 0),
    (1, 2, "fs", 2),
    (2, 3, "fs", 0),
    (3, 4, "fs", 0),
    (4, 5, "fs", 0),
    (2, 6, "ss", 5),
    (5, 7, "fs", 0),
    (6, 7, "ff", 0),
    (7, 8, "ss", 3),
    (8, 9, "fs", 1),
    (9, 10, "fs", 0),
    (9, 11, "sf", 0),
]
_EXPENSES = [
    ("Airfare", 180, 1450),
    ("Lodging", 95, 420),
    ("Meals", 12, 95),
    ("Software", 20, 600),
    ("Hardware", 150, 2400),
]
_HOUR_SIZES = [Decimal(h) for h in ("1", "2", "2.5", "3.5", "4", "6", "7.5", "8")]
#: The Workfront role of each sample role (`connectors.sample.world.ROLES`), by index in _ROLES.
_ROLE_OF = {
    "Project Manager": 0, "Solution Architect": 1, "Senior Developer": 2, "Consultant": 2,
    "Business Analyst": 4, "Developer": 3, "QA Engineer": 3, "DevOps Engineer": 3,
    "Data Engineer": 3, "UX Designer": 3,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Unsent:
    """Planted: hours approved in Workfront that never reached the PSA (its interface knows
    no resource for the person): `hours` every weekday from `first` to `last` on `project`, at
    `rate` an hour in the project's currency."""

    project: str
    first: date
    last: date
    hours: Decimal
    rate: Decimal
    name: tuple[str, str]


#: PRJ-0001 (EUR in both systems) in March and April 2025, inside the PSA's planned dates
#: (2025-02-02..2025-04-28): 40 weekdays x 6 h at 112.00 EUR, about twice the PSA's labor.
UNSENT = Unsent(
    "PRJ-0001", date(2025, 3, 3), date(2025, 4, 25), Decimal(6), Decimal("112.00"),
    ("Nadia", "Brandt"),
)  # fmt: skip


@dataclass
class DemoSeed:
    """What the seed made: IDs by meaning, counts per object, dirty rows with reasons."""

    api_user_id: str = ""
    roles: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    portfolios: list[str] = field(default_factory=list)
    programs: list[str] = field(default_factory=list)
    projects: dict[str, str] = field(default_factory=dict)  # PSA code or name -> ID
    tasks: dict[str, list[str]] = field(default_factory=dict)  # project ID -> leaf task IDs
    cross_project_link: str = ""
    logged_hours: list[str] = field(default_factory=list)
    deleted_hours: list[str] = field(default_factory=list)
    relogged_hours: list[str] = field(default_factory=list)
    general_hours: list[str] = field(default_factory=list)
    psa_users: dict[str, str] = field(default_factory=dict)  # sample resource key -> USER ID
    mirrored: dict[str, str] = field(default_factory=dict)  # HOUR ID -> PSA line (ACT-...)
    contractor: str = ""  # the USER of the planted unsent hours
    unsent_hours: list[str] = field(default_factory=list)
    dirty: dict[str, str] = field(default_factory=dict)  # record ID -> why it is dirty
    counts: dict[str, int] = field(default_factory=dict)


def _stamp(day: date, hour: int = 17, last: datetime = _LAST_STAMP) -> datetime:
    """A back-dated stamp: `hour` o'clock UTC of `day`, at the latest `last` (by default the
    evening of AS_OF: before the account clock starts, so no stamp is in its future)."""
    return min(datetime.combine(day, time(hour), tzinfo=UTC), last)


def _workdays(start: date, count: int) -> date:
    """The date `count` working days after `start` (weekends skipped)."""
    day = start
    while day.weekday() >= 5:
        day += timedelta(days=1)
    while count > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            count -= 1
    return day


def _schedule(start: date) -> list[tuple[date, date]]:
    """(start, finish) of each leaf task: a forward pass over `_LINKS` in working days."""
    durations = [days for _, leaves in _WBS for _, days in leaves]
    offsets: list[tuple[int, int]] = []
    for index, days in enumerate(durations):
        begin = 0
        for pred, succ, kind, lag in _LINKS:
            if succ != index:
                continue
            p_start, p_finish = offsets[pred]
            if kind == "fs":
                begin = max(begin, p_finish + lag)
            elif kind == "ss":
                begin = max(begin, p_start + lag)
            elif kind == "ff":
                begin = max(begin, p_finish + lag - days)
            else:  # sf: the successor finishes no earlier than the predecessor starts
                begin = max(begin, p_start + lag - days)
        offsets.append((begin, begin + days))
    return [(_workdays(start, b), _workdays(start, max(b, f - 1))) for b, f in offsets]


def seed_demo(
    store: FakeWorkfront,
    *,
    seed: int = 19,
    hours: int = DEFAULT_HOURS,
    dirty: bool = False,
    psa: PsaWorld | None = None,
) -> DemoSeed:
    """Fill `store` with the demo account; returns what it made. `hours` are drawn over every
    project; with `psa`, those drawn on its projects give way to its timecards (the module's
    docstring)."""
    rng = random.Random(seed)  # noqa: S311 - demo data, not security
    out = DemoSeed()
    created = _stamp(date(2024, 10, 1), 9)
    out.api_user_id = store.insert("USER", {
        "name": "API Integration", "firstName": "API", "lastName": "Integration",
        "username": "api-integration@acme.example", "emailAddr": "api-integration@acme.example",
        "title": "Integration user", "isActive": True}, at=created)  # fmt: skip
    for name, cost, bill in _ROLES:
        out.roles.append(store.insert("ROLE", {
            "name": name, "costPerHour": Decimal(cost), "billingPerHour": Decimal(bill),
            "isActive": True}))  # fmt: skip
    rates: list[Decimal] = []
    for first, last, role, own in _USERS:
        rate = Decimal(own) if own else Decimal(_ROLES[role][1])
        rates.append(rate)
        login = f"{first.lower()}.{last.lower()}@acme.example"
        out.users.append(
            store.insert(
                "USER",
                {
                    "name": f"{first} {last}",
                    "firstName": first,
                    "lastName": last,
                    "username": login,
                    "emailAddr": login,
                    "title": _ROLES[role][0],
                    "roleID": out.roles[role],
                    "costPerHour": Decimal(own) if own else None,
                    "billingPerHour": Decimal(_ROLES[role][2]),
                    "isActive": True,
                },
                at=created,
            )
        )
    for name, currency, budget in _PORTFOLIOS:
        out.portfolios.append(store.insert("PORT", {
            "name": name, "currency": currency, "budget": Decimal(budget), "isActive": True,
            "ownerID": out.users[0]}, at=created))  # fmt: skip
    for name, portfolio in _PROGRAMS:
        out.programs.append(store.insert("PRGM", {
            "name": name, "portfolioID": out.portfolios[portfolio], "isActive": True,
            "ownerID": out.users[6]}, at=created))  # fmt: skip
    schedules: dict[str, list[tuple[str, date, date, tuple[int, ...]]]] = {}
    for number, project in enumerate(_PROJECTS, start=1):
        project_id = _project(store, out, project, number)
        schedules[project_id] = _tasks(store, out, rng, project, project_id, rates)
    _cross_link(store, out)
    # The account's history before the demo: no journal of adds (it would double a large
    # seed); the deletions and re-logs below are journaled.
    journal, store.journal_enabled = store.journal_enabled, False
    linked = {out.projects[p.code] for p in _PROJECTS if p.code} if psa else set()
    _hours(store, out, rng, schedules, rates, hours, skip=linked)
    if psa is not None:
        _mirror(store, out, schedules, psa)
    _expenses(store, out, rng)
    store.journal_enabled = journal
    _delete_and_relog(store, out, rng)
    if dirty:
        _dirty(store, out)
    out.counts = {code: store.count(code) for code in
                  ("PORT", "PRGM", "PROJ", "TASK", "PRED", "ASSGN", "USER", "ROLE", "HOUR",
                   "EXPNS", "JRNLE")}  # fmt: skip
    return out


def _project(store: FakeWorkfront, out: DemoSeed, project: _Project, number: int) -> str:
    program = out.programs[project.program]
    portfolio = out.portfolios[_PROGRAMS[project.program][1]]
    local = store.zone
    done = project.status == "CPL"
    project_id = store.insert("PROJ", {
        "name": f"{project.code} {project.name}" if project.code else project.name,
        "referenceNumber": 1000 + number, "status": project.status,
        "portfolioID": portfolio, "programID": program, "ownerID": out.users[project.team[0]],
        "plannedStartDate": datetime.combine(project.start, time(9), tzinfo=local),
        "plannedCompletionDate": datetime.combine(project.end, time(17), tzinfo=local),
        "actualStartDate": (datetime.combine(project.start, time(9), tzinfo=local)
                            if project.start <= AS_OF else None),
        "actualCompletionDate": (datetime.combine(project.end, time(17), tzinfo=local)
                                 if done else None),
        "percentComplete": Decimal(100) if done else Decimal(0),
        "condition": ("AR", "ON", "IT")[number % 3], "budget": Decimal(project.budget),
        "currency": project.currency, "priority": 2, "DE:PSA Project Code": project.code,
    }, at=_stamp(project.start - timedelta(days=30)))  # fmt: skip
    out.projects[project.code or project.name] = project_id
    return project_id


def _tasks(
    store: FakeWorkfront,
    out: DemoSeed,
    rng: random.Random,
    project: _Project,
    project_id: str,
    rates: Sequence[Decimal],
) -> list[tuple[str, date, date, tuple[int, ...]]]:
    """The WBS, links and assignments of one project; returns the leaves with their dates
    and people."""
    local, created = store.zone, _stamp(project.start - timedelta(days=20))
    dates = _schedule(project.start)
    leaves: list[tuple[str, date, date, tuple[int, ...]]] = []
    number, leaf = 0, 0
    for phase_no, (phase, tasks) in enumerate(_WBS, start=1):
        number += 1
        first, last = dates[leaf][0], dates[leaf + len(tasks) - 1][1]
        parent = store.insert("TASK", _task_values(
            phase, project_id, None, number, str(phase_no), first, last,
            sum(d for _, d in tasks), local), at=created)  # fmt: skip
        for child_no, (name, days) in enumerate(tasks, start=1):
            number += 1
            start, finish = dates[leaf]
            people = tuple(rng.sample(project.team, k=min(len(project.team), 1 + (days >= 10))))
            values = _task_values(
                name,
                project_id,
                parent,
                number,
                f"{phase_no}.{child_no}",
                start,
                finish,
                days,
                local,
            )
            values.update(
                {
                    "assignedToID": out.users[people[0]],
                    "roleID": store.get("USER", out.users[people[0]])["roleID"],
                }
            )
            task_id = store.insert("TASK", values, at=created)
            for person in people:
                share = Decimal(1) / len(people)
                planned = int(days * _MINUTES_PER_DAY * share)
                store.insert("ASSGN", {
                    "assignedToID": out.users[person], "taskID": task_id,
                    "projectID": project_id, "workRequired": planned,
                    "work": Decimal(planned) / 60,
                    "roleID": store.get("USER", out.users[person])["roleID"],
                    "assignmentPercent": (share * 100).quantize(_CENT), "status": "A",
                    "isPrimary": person == people[0]}, at=created)  # fmt: skip
            leaves.append((task_id, start, finish, people))
            out.tasks.setdefault(project_id, []).append(task_id)
            leaf += 1
    for pred, succ, kind, lag in _LINKS:
        store.insert("PRED", {
            "predecessorID": leaves[pred][0], "successorID": leaves[succ][0],
            "predecessorType": kind, "lagDays": Decimal(lag), "lagType": "D",
            "isEnforced": kind == "fs", "isCP": False}, at=created)  # fmt: skip
    return leaves


def _task_values(
    name: str,
    project_id: str,
    parent: str | None,
    number: int,
    wbs: str,
    start: date,
    finish: date,
    days: int,
    zone: tzinfo,
) -> dict[str, Value]:
    begin = datetime.combine(start, time(9), tzinfo=zone)
    end = datetime.combine(finish, time(17), tzinfo=zone)
    done = finish <= AS_OF
    started = start <= AS_OF
    if done:
        percent = Decimal(100)
    elif started:
        elapsed = sum(
            1 for n in range((AS_OF - start).days + 1) if (start + timedelta(days=n)).weekday() < 5
        )
        percent = min(Decimal(95), (Decimal(elapsed * 100) / max(days, 1)).quantize(_CENT))
    else:
        percent = Decimal(0)
    minutes = days * _MINUTES_PER_DAY
    return {
        "name": name, "projectID": project_id, "parentID": parent, "taskNumber": number,
        "wbs": wbs, "status": "CPL" if done else "INP" if started else "NEW",
        "percentComplete": percent, "plannedStartDate": begin, "plannedCompletionDate": end,
        "actualStartDate": begin if started else None,
        "actualCompletionDate": end if done else None,
        "duration": Decimal(days), "durationMinutes": minutes, "durationUnit": "D",
        "workRequired": minutes, "work": Decimal(minutes) / 60,
        "actualWorkRequired": 0, "priority": 2,
        "DE:Optimistic Duration": (Decimal(days) * Decimal("0.75")).quantize(Decimal("0.5")),
        "DE:Pessimistic Duration": (Decimal(days) * Decimal("1.6")).quantize(Decimal("0.5")),
    }  # fmt: skip


def _cross_link(store: FakeWorkfront, out: DemoSeed) -> None:
    design = out.tasks[out.projects["PRJ-0001"]][2]
    sprint = out.tasks[out.projects["PRJ-0002"]][4]
    out.cross_project_link = store.insert(
        "PRED",
        {
            "predecessorID": design,
            "successorID": sprint,
            "predecessorType": "fs",
            "lagDays": Decimal(0),
            "lagType": "D",
            "isEnforced": True,
            "isCP": False,
        },
    )


def _hours(
    store: FakeWorkfront,
    out: DemoSeed,
    rng: random.Random,
    schedules: dict[str, list[tuple[str, date, date, tuple[int, ...]]]],
    rates: Sequence[Decimal],
    count: int,
    *,
    skip: set[str],
) -> None:
    """`count` hours drawn over the started tasks; those of a project in `skip` are drawn and
    dropped (the other projects get the same hours either way)."""
    costed = {out.projects[c] for c in ("PRJ-0001", "PRJ-0002", "PRJ-0003")}
    started = [(project_id, leaf) for project_id, leaves in schedules.items()
               for leaf in leaves if leaf[1] <= AS_OF]  # fmt: skip
    logged: list[str] = []
    for _ in range(count):
        project_id, (task_id, start, finish, people) = rng.choice(started)
        last = min(finish, AS_OF)
        day = start + timedelta(days=rng.randrange((last - start).days + 1))
        if day.weekday() >= 5:
            day -= timedelta(days=day.weekday() - 4)
        person = rng.choice(people)
        hours = rng.choice(_HOUR_SIZES)
        roll = rng.random()
        status = (SUBMITTED if day > AS_OF - timedelta(days=21) and roll < 0.7
                  else REJECTED if roll < 0.03 else APPROVED)  # fmt: skip
        saved = _stamp(day + timedelta(days=rng.randrange(1, 4)), 16 + rng.randrange(3))
        user_id = out.users[person]
        if project_id in skip:
            continue
        logged.append(store.insert("HOUR", {
            "hours": hours, "entryDate": day, "projectID": project_id, "taskID": task_id,
            "ownerID": user_id, "roleID": store.get("USER", user_id)["roleID"],
            "hourTypeID": "task-time", "status": status,
            "actualCost": (hours * rates[person]).quantize(_CENT)
            if project_id in costed else None,
            "approvedByID": out.users[0] if status == APPROVED else None,
            "approvedOnDate": saved if status == APPROVED else None,
        }, at=saved))  # fmt: skip
    for index in range(3):
        day = date(2025, 4, 7) + timedelta(days=index)
        out.general_hours.append(store.insert("HOUR", {
            "hours": Decimal("1.5"), "entryDate": day, "ownerID": out.users[index],
            "roleID": store.get("USER", out.users[index])["roleID"],
            "hourTypeID": "general-admin", "status": APPROVED,
            "description": "Team meeting (general time)"}, at=_stamp(day)))  # fmt: skip
    out.logged_hours = logged


def _mirror(
    store: FakeWorkfront,
    out: DemoSeed,
    schedules: dict[str, list[tuple[str, date, date, tuple[int, ...]]]],
    psa: PsaWorld,
) -> None:
    """The PSA's timecards as approved hours of its people, and the planted unsent hours."""
    people, cards, fx = psa_timecards(psa)
    last = datetime.combine(fx.status_date, time(20), tzinfo=UTC)
    store.set_now(max(store.now(), last + timedelta(hours=18)))
    created = _stamp(date(2024, 10, 1), 9)
    for person in people:
        if not any(card.person == person.key for card in cards):
            continue
        first, _, rest = person.name.partition(" ")
        out.psa_users[person.key] = store.insert("USER", {
            "name": person.name, "firstName": first, "lastName": rest,
            "username": person.email, "emailAddr": person.email, "title": person.role,
            "roleID": out.roles[_ROLE_OF.get(person.role, 3)], "isActive": person.active,
        }, at=created)  # fmt: skip
    currency = {p.code: p.currency or ACCOUNT_CURRENCY for p in _PROJECTS if p.code}
    owner = {p.code: out.users[p.team[0]] for p in _PROJECTS if p.code}
    for n, card in enumerate(cards):
        if card.project not in currency:
            continue
        cost = in_currency(card.amount, card.currency, currency[card.project], card.day, fx)
        hour_id = _log(store, out, schedules, card.project, out.psa_users[card.person],
                       card.day, card.hours, cost, owner[card.project], n, last)  # fmt: skip
        out.mirrored[hour_id] = card.line
    _unsent(store, out, schedules, created, last)


def _unsent(
    store: FakeWorkfront,
    out: DemoSeed,
    schedules: dict[str, list[tuple[str, date, date, tuple[int, ...]]]],
    created: datetime,
    last: datetime,
) -> None:
    """Planted: UNSENT's hours, logged and approved in Workfront only."""
    u = UNSENT
    project = next(p for p in _PROJECTS if p.code == u.project)
    first, family = u.name
    login = f"{first.lower()}.{family.lower()}@contractor.example"
    out.contractor = store.insert("USER", {
        "name": f"{first} {family}", "firstName": first, "lastName": family,
        "username": login, "emailAddr": login, "title": "Contractor",
        "roleID": out.roles[3], "costPerHour": u.rate, "isActive": True}, at=created)  # fmt: skip
    cost, approver = (u.hours * u.rate).quantize(_CENT), out.users[project.team[0]]
    day, n = u.first, 0
    while day <= u.last:
        if day.weekday() < 5:
            out.unsent_hours.append(_log(store, out, schedules, u.project, out.contractor,
                                         day, u.hours, cost, approver, n, last))  # fmt: skip
            n += 1
        day += timedelta(days=1)


def _log(
    store: FakeWorkfront,
    out: DemoSeed,
    schedules: dict[str, list[tuple[str, date, date, tuple[int, ...]]]],
    code: str,
    user_id: str,
    day: date,
    hours: Decimal,
    cost: Decimal,
    approver: str,
    n: int,
    last: datetime,
) -> str:
    """An approved hour with its cost on `code`'s leaf task whose dates hold `day` (else the
    nearest), saved one to three days later."""
    project_id = out.projects[code]

    def distance(leaf: tuple[str, date, date, tuple[int, ...]]) -> int:
        return max((leaf[1] - day).days, (day - leaf[2]).days, 0)

    task_id = min(schedules[project_id], key=distance)[0]
    saved = _stamp(day + timedelta(days=1 + n % 3), 16 + n % 3, last)
    hour_id = store.insert("HOUR", {
        "hours": hours, "entryDate": day, "projectID": project_id, "taskID": task_id,
        "ownerID": user_id, "roleID": store.get("USER", user_id)["roleID"],
        "hourTypeID": "task-time", "status": APPROVED, "actualCost": cost,
        "approvedByID": approver, "approvedOnDate": saved}, at=saved)  # fmt: skip
    out.logged_hours.append(hour_id)
    return hour_id


def _delete_and_relog(store: FakeWorkfront, out: DemoSeed, rng: random.Random) -> None:
    for hour_id in rng.sample(out.logged_hours, k=min(5, len(out.logged_hours))):
        old = store.delete("HOUR", hour_id)
        out.deleted_hours.append(hour_id)
        again = {k: v for k, v in old.items() if k not in ("ID", "lastUpdateDate")}
        new_id = store.insert("HOUR", again)
        out.relogged_hours.append(new_id)
        if hour_id in out.mirrored:
            out.mirrored[new_id] = out.mirrored.pop(hour_id)
        if hour_id in out.unsent_hours:
            out.unsent_hours[out.unsent_hours.index(hour_id)] = new_id


def _expenses(store: FakeWorkfront, out: DemoSeed, rng: random.Random) -> None:
    for project in _PROJECTS:
        if project.start > AS_OF:
            continue
        project_id = out.projects[project.code or project.name]
        for _ in range(rng.randrange(6, 13)):
            kind, low, high = rng.choice(_EXPENSES)
            amount = Decimal(rng.randrange(low * 100, high * 100)) / 100
            span = (min(project.end, AS_OF) - project.start).days
            day = project.start + timedelta(days=rng.randrange(span + 1))
            store.insert("EXPNS", {
                "description": kind, "actualAmount": amount, "actualUnitAmount": amount,
                "plannedAmount": amount.quantize(Decimal(10)), "effectiveDate": day,
                "expenseTypeID": kind.lower(), "projectID": project_id, "objID": project_id,
                "expObjCode": "PROJ", "isBillable": kind != "Software",
                "isReimbursable": kind in ("Airfare", "Lodging", "Meals")},
                at=_stamp(day + timedelta(days=2)))  # fmt: skip


def _dirty(store: FakeWorkfront, out: DemoSeed) -> None:
    project_id = out.projects["PRJ-0001"]
    task_id = out.tasks[project_id][0]
    base: dict[str, Value] = {
        "projectID": project_id,
        "taskID": task_id,
        "ownerID": out.users[0],
        "roleID": out.roles[0],
        "status": APPROVED,
        "hourTypeID": "task-time",
    }
    rows: list[tuple[str, dict[str, Value], str]] = [
        ("HOUR", {**base, "hours": None, "entryDate": date(2025, 3, 3)}, "hours is null"),
        ("HOUR", {**base, "hours": Decimal(4), "entryDate": None}, "entryDate is null"),
        ("HOUR", {**base, "hours": "seven", "entryDate": date(2025, 3, 4)},
         "hours is not a number"),
        ("EXPNS", {"description": "Taxi", "actualAmount": "1,250.00",
                   "effectiveDate": date(2025, 3, 5), "projectID": project_id},
         "actualAmount is not a number"),
        ("EXPNS", {"description": "Hotel", "actualAmount": Decimal("310.00"),
                   "effectiveDate": None, "projectID": project_id}, "effectiveDate is null"),
    ]  # fmt: skip
    for code, values, reason in rows:
        out.dirty[store.insert(code, values, at=_stamp(date(2025, 3, 6)))] = reason
