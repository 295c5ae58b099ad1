"""Schedule: each project's tasks at the status date as `pmo-ledger plan` computes them (CPM
early dates, late finish, total float, critical), the project's PERT figures on its own row
(expected finish, sigma in working days, its planned finish as the deadline and the
probability of finishing by it), and a Gantt drawn by conditional formatting over one column
per week (Monday): a task's bar where the week overlaps its start..finish, darker for the part
done (percent complete), red on the critical path; the week holding the status date is framed
(the status-date column, its date on the Cover as the name StatusDate). Task rows are outline
level 1 under their project's row."""

from __future__ import annotations

from datetime import date, timedelta

from pmo_ledger.jobs.workbook.book import HEADER, Book, col
from pmo_ledger.ledger.queries.status import ProjectSchedule

COLUMNS = [
    ("Project", 12), ("WBS", 8), ("Task", 30), ("State", 8), ("% complete", 8),
    ("Start", 10.5), ("Finish", 10.5), ("Late finish", 10.5), ("Total float (days)", 8),
    ("Critical", 8), ("PERT expected finish", 10.5), ("Sigma (days)", 8), ("Deadline", 10.5),
    ("P(deadline)", 9),
]  # fmt: skip
PCT, START, FINISH, CRITICAL = 4, 5, 6, 9
WEEKS = len(COLUMNS)
#: Weeks drawn at most (three years); later weeks are left out (the dates still say them).
MAX_WEEKS = 156


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def write(book: Book, schedules: list[ProjectSchedule]) -> None:
    r = book.report
    ws = book.sheet("Schedule", "Schedule (CPM, PERT) and Gantt by week")
    starts = [s.schedule.start for s in schedules]
    ends = [max(s.schedule.finish, s.pert.expected_finish) for s in schedules]
    first_week = _monday(min([*starts, r.status_date]))
    last_week = _monday(max([*ends, r.status_date]))
    n_weeks = min((last_week - first_week).days // 7 + 1, MAX_WEEKS)
    weeks = [first_week + timedelta(weeks=i) for i in range(n_weeks)]
    status_week = next((i for i, w in enumerate(weeks) if w <= r.status_date < w +
                        timedelta(days=7)), None)  # fmt: skip
    if status_week is not None:
        ws.write_string(2, WEEKS + status_week, "status", book.f("bold"))
    book.header(ws, COLUMNS)
    ws.set_row(HEADER, 48)
    for i, w in enumerate(weeks):
        ws.set_column(WEEKS + i, WEEKS + i, 2.6)
        book.write(ws, HEADER, WEEKS + i, w, "week")
    ws.freeze_panes(HEADER + 1, 3)
    ws.outline_settings(True, False, True, False)
    first = row = HEADER + 1
    for s in schedules:
        p, sched = s.pert, s.schedule
        ws.set_row(row, None, None, {"level": 0})
        fmt = "program"
        book.write(ws, row, 0, s.code, fmt)
        book.write(ws, row, 1, None, fmt)
        book.write(ws, row, 2, s.name, fmt)
        book.write(ws, row, 3, None, fmt)
        book.write(ws, row, 4, None, fmt)
        book.write(ws, row, START, sched.start, "date")
        book.write(ws, row, FINISH, sched.finish, "date")
        for c in (7, 8, 9):
            book.write(ws, row, c, None)
        book.write(ws, row, 10, p.expected_finish, "date")
        book.write(ws, row, 11, round(p.sd, 2), "days")
        book.write(ws, row, 12, s.deadline, "date")
        book.write(ws, row, 13, p.probability(s.deadline) if s.deadline else None, "pct")
        row += 1
        for t in sched.rows:
            ws.set_row(row, None, None, {"level": 1})
            book.write(ws, row, 0, s.code)
            book.write(ws, row, 1, t.wbs)
            ws.write_string(row, 2, t.name, book.f(f"indent{min(t.level, 2)}" if t.level else
                                                  ("bold" if t.summary else "text")))  # fmt: skip
            book.write(ws, row, 3, t.state)
            book.write(ws, row, PCT, t.percent / 100, "pct")
            book.write(ws, row, START, t.early_start, "date")
            book.write(ws, row, FINISH, t.early_finish, "date")
            book.write(ws, row, 7, t.late_finish, "date")
            book.write(ws, row, 8, t.total_float, "days")
            book.write(ws, row, CRITICAL, "yes" if t.critical else "no")
            row += 1
    last = max(row - 1, first)
    ws.autofilter(HEADER, 0, last, WEEKS - 1)
    if not weeks:
        return
    grid = f"{col(WEEKS)}{first + 1}:{col(WEEKS + len(weeks) - 1)}{last + 1}"
    wk, s_, f_ = (
        f"{col(WEEKS)}${HEADER + 1}",
        f"${col(START)}{first + 1}",
        f"${col(FINISH)}{first + 1}",
    )
    on = f"{wk}<={f_},{wk}+6>={s_}"
    done = f"{wk}<{s_}+({f_}-{s_}+1)*${col(PCT)}{first + 1}"
    status = f"AND({wk}<=StatusDate,{wk}+6>=StatusDate)"
    # Excel applies every matching rule until one stops; LibreOffice only the first that
    # matches: the bars come first, the status-date frame last (on empty weeks in LibreOffice).
    rules = [
        (f'AND(${col(CRITICAL)}{first + 1}="yes",{on})', "bar_critical", False),
        (f"AND({on},{done})", "bar_done", False),
        (f"AND({on})", "bar", False),
        (status, "status_col", False),
    ]
    for formula, fmt, stop in rules:
        ws.conditional_format(grid, {"type": "formula", "criteria": f"={formula}",
                                     "format": book.f(fmt), "stop_if_true": stop})  # fmt: skip
