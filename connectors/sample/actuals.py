"""The sample's actuals: timecards (hours and money) and expense lines, with mutation rounds.

Line i (0 <= i < actuals; round r adds lines actuals + (r-1)*add ..) is `mix(seed, i)`:
its project (weighted by size), labor or expense, posting day in the project's window, task
and resource (labor), hours or amount. Round r (1..round) changes line i, created in round c,
when r > c and (i + r) % k == 0 for a knob k: `edit_every` (version v = edits % 8; labor:
v quarter hours more, expense: 3v% more), `move_every` (next project, same task slot),
`currency_every` (next currency, amount converted), `delete_every` (deleted, once: after k
rounds every line of round 0 is gone). A line's state in world round R is the sum of its
changes in rounds 1..R, all O(1) arithmetic.

Lines actuals .. actuals + orphans - 1 are orphans: drawn like any line, but posted to a project
the source has no record of (`PRJ-<projects + 1>`, no task). `planted.markup` raises the
amounts of one project's cost type over a few months (another source of the same seed posts
the same lines without it).

Order: a line's modstamp is its last change: `e0 + i s` if none, else `round_time(r) + i ms`.
So the stream, ordered by (modstamp, key), is: round 0's untouched lines by i, then for each
round r the lines whose last change is r, by i. A cursor maps to (round, first i) directly;
round r's candidates are merged arithmetic progressions, so an incremental read costs what
it returns, not the size of the stream.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import chain, groupby

from pmo_ledger.connectors.kit.pages import Item, Marked
from pmo_ledger.connectors.sample.fastrecord import actual
from pmo_ledger.connectors.sample.world import (
    GOLDEN,
    M64,
    ProjectSpec,
    World,
    add_months,
    convert_cents,
    mix,
)
from pmo_ledger.ledger.records import ActualRecord, Rejected

SALT = 0xAC7
SECOND = timedelta(seconds=1)
MILLI = timedelta(milliseconds=1)
#: Expense lines: (cost type, share of lines in percent, min cents, span of cents, text).
EXPENSES = (
    ("travel", 15, 5_000, 295_000, "Travel expense"),
    ("software", 7, 10_000, 1_990_000, "Software license"),
    ("subcontract", 8, 100_000, 4_900_000, "Subcontractor invoice"),
)
LABOR_SHARE = 70
#: Edit v of a line sets it to version v % EDIT_CYCLE: each edit changes it, none grows it
#: without bound.
EDIT_CYCLE = 8
#: An expense line's (cost type, min cents, span of cents, text) by its bucket 0..29.
EXPENSE_BY_BUCKET = [e[:1] + e[2:] for e in EXPENSES for _ in range(e[1])]
Match = Callable[[int, int], bool]


class ActualLines:
    """The actuals of a world at its round."""

    def __init__(self, world: World) -> None:
        s = world.settings
        self.w = world
        self.n, self.add, self.round = s.actuals + s.orphans, s.add, s.round
        #: Orphan lines are [shared, n): posted to a project this source does not list.
        self.shared = s.actuals
        self.orphan_key = f"PRJ-{len(world.projects) + 1:04d}"
        self.markup = self._markup(world)
        self.edit, self.delete = s.edit_every, s.delete_every
        self.move, self.ccy = s.move_every, s.currency_every
        self.reject = s.reject_every
        self.key = world.key ^ SALT
        self.currencies = list(s.currencies)
        self.ccy_index = {c: k for k, c in enumerate(self.currencies)}
        self.n_projects = len(world.projects)
        self.slots = world.slots
        first = min(p.post_from for p in world.projects)
        last = max(p.post_from + p.post_days for p in world.projects)
        self.day0 = first
        self.days = [date.fromordinal(o) for o in range(first, last)]
        self.hours = [Decimal(q * 25).scaleb(-2) for q in range(200)]
        # Flat per-project and per-resource tables: the hot path reads tuples, not objects.
        self.proj = [
            (p.post_from, p.post_days, p.team, p.currency, self._leaf_starts(p))
            for p in world.projects
        ]
        self.proj_key = [p.key for p in world.projects]
        self.leaf_keys = [
            [f"{p.key}.T{3 * (k // 2) + 2 + k % 2:02d}" for k in range(8)] for p in world.projects
        ]
        self.res = [
            (r.key, r.currency, r.rate_cents, r.raise_cents, r.raise_on.toordinal(),
             f"Timecard {r.name}")
            for r in world.resources
        ]  # fmt: skip

    @staticmethod
    def _markup(world: World) -> tuple[int, str, int, int, int] | None:
        """`planted.markup` as (project index, cost type, first day ordinal, end ordinal
        (exclusive), percent), or None."""
        m = world.settings.planted.markup
        if m is None or m.project not in world.project_index:
            return None
        first = date(int(m.first[:4]), int(m.first[5:]), 1)
        end = add_months(first, m.months)
        index = world.project_index[m.project]
        return index, m.cost_type, first.toordinal(), end.toordinal(), m.pct

    def _marked_up(self, cents: int, p: int, cost_type: str, day: int) -> int:
        """`cents` with the planted markup applied when the line is one it names."""
        m = self.markup
        if m is None or p != m[0] or cost_type != m[1] or not m[2] <= day < m[3]:
            return cents
        return cents * (100 + m[4]) // 100

    def _leaf_starts(self, p: ProjectSpec) -> list[int]:
        """First planned day (ordinal) of each of the project's 8 WBS leaves."""
        return [self.w.task_window(p, 3 * (k // 2) + 1 + k % 2)[0].toordinal() for k in range(8)]

    # --- the mutation arithmetic ---------------------------------------------------------

    def created(self, i: int) -> int:
        return 0 if i < self.n else 1 + (i - self.n) // self.add

    def _events(self, every: int, i: int, c: int) -> tuple[int, int]:
        """(how many, last round) of the changes of one knob to line i in rounds c+1..round."""
        if not every:
            return 0, 0
        first = c + 1 + (-i - c - 1) % every
        if first > self.round:
            return 0, 0
        k = (self.round - first) // every
        return k + 1, first + k * every

    def state(self, i: int) -> tuple[int, bool, int, int, int]:
        """(round of the last change, deleted, edits, moves, currency changes) of line i."""
        c = self.created(i)
        if self.delete:
            first = c + 1 + (-i - c - 1) % self.delete  # a line is deleted once, and stays so
            if first <= self.round:
                return first, True, 0, 0, 0
        edits, e_last = self._events(self.edit, i, c)
        moves, m_last = self._events(self.move, i, c)
        ccys, c_last = self._events(self.ccy, i, c)
        return max(c, e_last, m_last, c_last), False, edits, moves, ccys

    # --- one line ---------------------------------------------------------------------

    def external_id(self, i: int) -> str:
        return f"ACT-{i + 1:09d}"

    def where(self, i: int, moves: int) -> tuple[int, int]:
        """(project index, posting day ordinal) of line i after `moves` moves."""
        h = mix(self.key, i)
        p0 = self.slots[h % len(self.slots)]
        post_from, post_days = self.proj[p0][:2]
        day = post_from + (h >> 20) % post_days
        if self.shared <= i < self.n:
            return -1, day  # an orphan: on no project of the world
        return (p0 + moves) % self.n_projects, day

    def line(self, i: int, edits: int, moves: int, ccys: int, at: datetime) -> ActualRecord:
        """Line i with these many changes applied, last modified `at`."""
        h = (self.key ^ (i * GOLDEN)) & M64  # mix(self.key, i), inlined: this is the hot path
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & M64
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & M64
        h ^= h >> 31
        p0 = self.slots[h % len(self.slots)]
        post_from, post_days, team, currency, leaf_starts = self.proj[p0]
        day = post_from + (h >> 20) % post_days
        p = (p0 + moves) % self.n_projects if moves else p0
        bucket = (h >> 13) % 100
        if bucket < LABOR_SHARE:
            r_key, currency, rate, raised, raise_on, text = self.res[team[(h >> 40) % len(team)]]
            quarters = 4 + (h >> 44) % 33 + edits % EDIT_CYCLE
            cents = (quarters * (rate if day < raise_on else raised) + 2) // 4
            if ccys:
                to = self.currencies[(self.ccy_index[currency] + ccys) % len(self.currencies)]
                cents, currency = convert_cents(cents, currency, to), to
            # The leaf planned for that day; in Build, Development and Integration overlap.
            leaf = bisect_right(leaf_starts, day) - 1
            if leaf == 5 and not (h >> 52) & 1:
                leaf = 4
            if self.markup is not None:
                cents = self._marked_up(cents, p, "labor", day)
            orphan = self.shared <= i < self.n
            return actual(
                f"ACT-{i + 1:09d}",
                self.orphan_key if orphan else self.proj_key[p],
                self.days[day - self.day0],
                "labor",
                None if orphan else self.leaf_keys[p][max(leaf, 0)],
                r_key,
                currency,
                Decimal(cents).scaleb(-2),
                self.hours[quarters],
                text,
                at,
            )
        cost_type, low, span, text = EXPENSE_BY_BUCKET[bucket - LABOR_SHARE]
        cents = low + (h >> 40) % span
        if edits % EDIT_CYCLE:
            cents = cents * (100 + 3 * (edits % EDIT_CYCLE)) // 100
        if ccys:
            to = self.currencies[(self.ccy_index[currency] + ccys) % len(self.currencies)]
            cents, currency = convert_cents(cents, currency, to), to
        if self.markup is not None:
            cents = self._marked_up(cents, p, cost_type, day)
        return actual(
            f"ACT-{i + 1:09d}",
            self.orphan_key if self.shared <= i < self.n else self.proj_key[p],
            self.days[day - self.day0],
            cost_type,
            None,
            None,
            currency,
            Decimal(cents).scaleb(-2),
            None,
            text,
            at,
        )

    def rejected(self, i: int, at: datetime) -> Rejected:
        """Line i as a row the sample cannot normalize (an amount in a local format)."""
        project, day = self.where(i, 0)
        key = self.external_id(i)
        payload = {
            "Id": key,
            "Project__c": self.orphan_key if project < 0 else self.proj_key[project],
            "Date__c": date.fromordinal(day).isoformat(),
            "Amount__c": f"{mix(self.key, i) % 100_000:,}.{i % 100:02d},-",
            "LastModifiedDate": at.isoformat(),
        }
        return Rejected(key, "bad_amount", payload)

    def is_rejected(self, i: int) -> bool:
        return bool(self.reject) and i % self.reject == self.reject - 1

    # --- the ordered stream -----------------------------------------------------------

    def position(self, since: datetime | None) -> tuple[int, int] | None:
        """(round, first line index) where a read from `since` starts; None past the end."""
        w = self.w
        if since is None or since <= w.e0:
            return 0, 0
        if since < w.round_time(1):
            return 0, -((w.e0 - since) // SECOND)
        r = 1 + (since - w.round_time(1)) // w.gap
        if r > self.round:
            return None
        return r, -((w.round_time(r) - since) // MILLI)

    def items(
        self, since: datetime | None, *, deletions: bool, match: Match | None = None
    ) -> Iterator[Item]:
        """Records and Marked deletions and rejected rows, in stream order from `since`.
        `match(i, moves)` keeps only some lines (a scope read)."""
        start = self.position(since)
        if start is None:
            return
        r0, lo = start
        if r0 == 0:
            yield from self._round_zero(lo, match)
            lo = 0
        for r in range(max(r0, 1), self.round + 1):
            yield from self._round(r, lo, deletions, match)
            lo = 0

    def _round_zero(self, lo: int, match: Match | None) -> Iterator[Item]:
        e0, line = self.w.e0, self.line
        if self.round == 0 and match is None and not self.reject:
            at = e0 + (lo - 1) * SECOND
            for i in range(lo, self.n):
                at += SECOND
                yield line(i, 0, 0, 0, at)
            return
        for i in range(lo, self.n):
            if self.round and self.state(i)[0]:
                continue  # changed later: it is listed in the round of its last change
            if match is not None and not match(i, 0):
                continue
            at = e0 + i * SECOND
            yield Marked(at, self.rejected(i, at)) if self.is_rejected(i) else line(i, 0, 0, 0, at)

    def _candidates(self, r: int, lo: int) -> Iterator[int]:
        """Indexes of lines round r may change, ascending, from lo."""
        hi = self.n + (r - 1) * self.add  # lines that existed before round r
        ranges = [
            range(lo + (-r - lo) % k, hi, k)
            for k in (self.edit, self.delete, self.move, self.ccy)
            if k
        ]
        merged = heapq.merge(*ranges) if len(ranges) > 1 else chain(*ranges)
        unique = (i for i, _ in groupby(merged))
        return chain(unique, range(max(lo, hi), self.n + r * self.add))

    def _round(self, r: int, lo: int, deletions: bool, match: Match | None) -> Iterator[Item]:
        base = self.w.round_time(r)
        for i in self._candidates(r, lo):
            last, gone, edits, moves, ccys = self.state(i)
            if last != r:
                continue
            at = base + i * MILLI
            if gone:
                if deletions:
                    yield Marked(at, self.external_id(i))
                continue
            if match is not None and not match(i, moves):
                continue
            if self.is_rejected(i):
                yield Marked(at, self.rejected(i, at))
            else:
                yield self.line(i, edits, moves, ccys, at)


def project_match(lines: ActualLines, project: int) -> Match:
    """Keeps the lines of one project (after their moves)."""
    return lambda i, moves: lines.where(i, moves)[0] == project


def period_match(lines: ActualLines, first: date, last: date) -> Match:
    """Keeps the lines posted in [first, last]."""
    lo, hi = first.toordinal(), last.toordinal()
    return lambda i, moves: lo <= lines.where(i, moves)[1] <= hi
