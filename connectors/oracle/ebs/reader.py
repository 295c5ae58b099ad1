"""What the EBS flavor reads: one SQLAlchemy Core statement per stream (bind variables only,
the schema put in by the engine), streamed with `yield_per` (python-oracledb fetches
`arraysize` rows per round trip), ordered by LAST_UPDATE_DATE and the key so the kit's
`ordered_pages` gives each page a checkpoint that is safe.

Every stream reads incrementally from the cursor (LAST_UPDATE_DATE >= the cursor, in the
database's zone; the runner has already taken the lookback off, the reader takes `commit_lag`
off too: EBS stamps a row when its program writes it and commits later). No page's checkpoint
is later than the database's time when the read began (SYSDATE, less `CHECKPOINT_MARGIN`):
a row stamped before then but committed after is still within the next read's window, and a
stamp ahead of the database's clock never moves the checkpoint past it. A full read of the actuals
is one scope of the stream: a line the source no longer lists is reversed. EBS never updates
an expenditure item's cost in place without a distribution line: a reversal is a new item
with negative amounts (ADJUSTED_EXPENDITURE_ITEM_ID), re-costing marks the old raw line
REVERSED_FLAG = 'Y' and adds a reversing line (LINE_NUM_REVERSED) and a new one, so the
lines of an item always add up to its cost.

`control_totals`: the same rows summed by the database (SUM, COUNT) per project and currency.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, case, exc, func, literal, select

from pmo_ledger.connectors.base import ConnectorContext, Cursor, Page, ReadRequest, SourceTotal
from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.kit.pages import Item, Marked, ordered_pages, scoped
from pmo_ledger.connectors.oracle.ebs import normalize as n
from pmo_ledger.connectors.oracle.ebs.source import guarded, make_source_engine, translated
from pmo_ledger.connectors.oracle.ebs.tables import (
    GL_DAILY_RATES,
    PA_BUDGET_LINES,
    PA_BUDGET_VERSIONS,
    PA_COST_DISTRIBUTION_LINES_ALL,
    PA_EXPENDITURE_ITEMS_ALL,
    PA_PROJECTS_ALL,
    PA_RESOURCE_ASSIGNMENTS,
    PA_TASKS,
)
from pmo_ledger.connectors.oracle.settings import LABOR_LINKAGES, OracleSettings
from pmo_ledger.ledger.records import Rejected
from pmo_ledger.ledger.time.calendar import periods_overlapping

P, T, EI = PA_PROJECTS_ALL, PA_TASKS, PA_EXPENDITURE_ITEMS_ALL
CDL, BV, BL, RA, RATES = (
    PA_COST_DISTRIBUTION_LINES_ALL,
    PA_BUDGET_VERSIONS,
    PA_BUDGET_LINES,
    PA_RESOURCE_ASSIGNMENTS,
    GL_DAILY_RATES,
)
#: Budget versions whose lines one statement reads (an IN list of binds; Oracle allows 1000).
VERSIONS_PER_QUERY = 500
BASELINED = "B"
_ZERO = Decimal("0.0000")
#: A checkpoint stays this far behind the database's time when the read began (a DATE has
#: whole seconds; a statement stamped in the second the read began may commit after it).
CHECKPOINT_MARGIN = timedelta(minutes=1)


def capped(pages: Iterator[Page], cap: datetime) -> Iterator[Page]:
    """The pages, none with a checkpoint later than `cap`."""
    for page in pages:
        point = page.checkpoint
        if point is not None and isinstance(point.value, datetime) and point.value > cap:
            page = replace(page, checkpoint=Cursor("timestamp", cap))
        yield page


def not_template() -> Any:
    """Projects that are not templates (TEMPLATE_FLAG 'Y')."""
    return func.coalesce(P.c.TEMPLATE_FLAG, "N") != "Y"


class EbsReader:
    """The EBS flavor's reads over one engine (made on first use)."""

    def __init__(self, settings: OracleSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.context = context
        self.zone: tzinfo = ZoneInfo(settings.db_timezone)
        self._engine: Engine | None = None

    @property
    def name(self) -> str:
        return self.context.name

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            c = self.context
            self._engine = make_source_engine(self.settings, c.connect_timeout, c.read_timeout)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- statements ------------------------------------------------------------------------

    def _orgs(self, column: Any) -> list[Any]:
        return [column.in_(self.settings.org_ids)] if self.settings.org_ids else []

    def _since(self, column: Any, since: datetime | None) -> list[Any]:
        return [] if since is None else [column >= n.local(since, self.zone)]

    def projects_statement(self, since: datetime | None) -> Select[Any]:
        where = [not_template(), *self._orgs(P.c.ORG_ID), *self._since(P.c.LAST_UPDATE_DATE, since)]
        return select(P).where(*where).order_by(P.c.LAST_UPDATE_DATE, P.c.PROJECT_ID)

    def tasks_statement(self, since: datetime | None) -> Select[Any]:
        where = [not_template(), *self._orgs(P.c.ORG_ID), *self._since(T.c.LAST_UPDATE_DATE, since)]
        return (
            select(T, P.c.SEGMENT1)
            .join(P, P.c.PROJECT_ID == T.c.PROJECT_ID)
            .where(*where)
            .order_by(T.c.LAST_UPDATE_DATE, T.c.TASK_ID)
        )

    def _lines_from(self) -> Any:
        return CDL.join(EI, EI.c.EXPENDITURE_ITEM_ID == CDL.c.EXPENDITURE_ITEM_ID).join(
            P, P.c.PROJECT_ID == EI.c.PROJECT_ID
        )

    def _lines_where(self) -> list[Any]:
        # The project's operating unit, as for projects, tasks and budgets (an item charged
        # by another operating unit, EI.ORG_ID, still belongs to its project's).
        return [CDL.c.LINE_TYPE == "R", not_template(), *self._orgs(P.c.ORG_ID)]

    def actuals_statement(self, since: datetime | None) -> Select[Any]:
        columns = [
            CDL.c.EXPENDITURE_ITEM_ID, CDL.c.LINE_NUM, CDL.c.LINE_NUM_REVERSED, CDL.c.AMOUNT,
            CDL.c.BURDENED_COST, CDL.c.PROJFUNC_BURDENED_CHANGE, CDL.c.PROJFUNC_CURRENCY_CODE,
            CDL.c.ACCT_RAW_COST, CDL.c.ACCT_BURDENED_COST, CDL.c.ACCT_BURDENED_CHANGE,
            CDL.c.PROJECT_RAW_COST, CDL.c.PROJECT_BURDENED_COST, CDL.c.PROJECT_BURDENED_CHANGE,
            CDL.c.QUANTITY, CDL.c.ACCT_CURRENCY_CODE, CDL.c.PROJECT_CURRENCY_CODE,
            CDL.c.GL_DATE, CDL.c.LAST_UPDATE_DATE, EI.c.TASK_ID, EI.c.EXPENDITURE_TYPE,
            EI.c.SYSTEM_LINKAGE_FUNCTION, EI.c.EXPENDITURE_ITEM_DATE, EI.c.UNIT_OF_MEASURE,
            EI.c.ADJUSTED_EXPENDITURE_ITEM_ID, P.c.SEGMENT1,
        ]  # fmt: skip
        where = [*self._lines_where(), *self._since(CDL.c.LAST_UPDATE_DATE, since)]
        return (
            select(*columns)
            .select_from(self._lines_from())
            .where(*where)
            .order_by(CDL.c.LAST_UPDATE_DATE, CDL.c.EXPENDITURE_ITEM_ID, CDL.c.LINE_NUM)
        )

    def versions_statement(self, since: datetime | None) -> Select[Any]:
        where = [
            BV.c.BUDGET_TYPE_CODE == self.settings.budget_type,
            BV.c.BUDGET_STATUS_CODE == BASELINED,
            not_template(),
            *self._orgs(P.c.ORG_ID),
            *self._since(BV.c.LAST_UPDATE_DATE, since),
        ]
        return (
            select(BV, P.c.SEGMENT1, P.c.PROJECT_CURRENCY_CODE)
            .join(P, P.c.PROJECT_ID == BV.c.PROJECT_ID)
            .where(*where)
            .order_by(BV.c.LAST_UPDATE_DATE, BV.c.BUDGET_VERSION_ID)
        )

    def budget_lines_statement(self, versions: Sequence[int]) -> Select[Any]:
        return (
            select(BL, RA.c.TASK_ID, RA.c.UNIT_OF_MEASURE)
            .join(RA, RA.c.RESOURCE_ASSIGNMENT_ID == BL.c.RESOURCE_ASSIGNMENT_ID)
            .where(BL.c.BUDGET_VERSION_ID.in_(list(versions)))
            .order_by(BL.c.BUDGET_VERSION_ID, BL.c.START_DATE, BL.c.BUDGET_LINE_ID)
        )

    def rates_statement(self, since: datetime | None) -> Select[Any]:
        where = [
            RATES.c.CONVERSION_TYPE == self.settings.fx_rate_type,
            RATES.c.STATUS_CODE != "D",
            *self._since(RATES.c.LAST_UPDATE_DATE, since),
        ]
        r = RATES.c
        return (
            select(RATES)
            .where(*where)
            .order_by(r.LAST_UPDATE_DATE, r.FROM_CURRENCY, r.TO_CURRENCY, r.CONVERSION_DATE)
        )

    # --- reading -----------------------------------------------------------------------------

    def rows(self, statement: Select[Any], what: str) -> Iterator[dict[str, Any]]:
        """The statement's rows as dicts, streamed `arraysize` at a time."""
        size = self.settings.arraysize
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(yield_per=size).execute(statement)
                for row in result.mappings():
                    yield dict(row)
        except exc.SQLAlchemyError as error:
            raise translated(self.name, what, error) from error

    def _items(
        self, statement: Select[Any], what: str, make: Callable[[dict[str, Any]], Any],
        key: Callable[[dict[str, Any]], str | None],
    ) -> Iterator[Item]:  # fmt: skip
        for row in self.rows(statement, what):
            try:
                yield make(row)
            except (ValueError, TypeError, KeyError) as error:
                at = n.utc(row.get("LAST_UPDATE_DATE"), self.zone)
                payload = {k: str(v) for k, v in row.items()}
                yield Marked(at, Rejected(key(row), "unreadable_row", {"error": str(error),
                                                                     "row": payload}))

    def extract(self, stream: str, request: ReadRequest) -> Iterator[Page]:
        """Pages of `stream` from the request's cursor (None: a full read)."""
        if request.scope is not None:
            return self._project_scope(stream, request.scope)
        since = request.cursor.value if request.cursor is not None else None
        if since is not None and not isinstance(since, datetime):
            raise ConnectorConfigError(f"{self.name}: stream {stream} reads from a timestamp")
        if since is not None:
            since -= self.settings.commit_lag
        cap = self.database_now() - CHECKPOINT_MARGIN
        z, s = self.zone, self.settings
        what = f"{self.name}.{stream}"
        items: Iterator[Item]
        if stream == "projects":
            items = self._items(
                self.projects_statement(since), what, lambda r: n.project_record(r, z),
                lambda r: r.get("SEGMENT1"),
            )  # fmt: skip
        elif stream == "tasks":
            items = self._items(
                self.tasks_statement(since), what, lambda r: n.task_record(r, z),
                lambda r: n.ident(r.get("TASK_ID")),
            )  # fmt: skip
        elif stream == "actuals":
            items = self._items(self.actuals_statement(since), what, self._actual, n.line_key)
        elif stream == "budgets":
            items = self._budgets(since, what)
        elif stream == "fx_rates":
            rate_type = s.ledger_rate_type
            items = self._items(
                self.rates_statement(since), what, lambda r: n.fx_rate(r, rate_type, z),
                lambda r: "/".join(str(r.get(c)) for c in ("FROM_CURRENCY", "TO_CURRENCY",
                                                           "CONVERSION_DATE")),
            )  # fmt: skip
        else:
            raise ConnectorConfigError(f"{self.name} has no stream {stream!r}")
        pages = capped(ordered_pages(items, s.page_size), cap)
        return scoped(stream, pages) if since is None and stream == "actuals" else pages

    def now_statement(self) -> Select[Any]:
        """The database's current time: Oracle's SYSDATE (the clock EBS stamps
        LAST_UPDATE_DATE with, in `db_timezone`); a copy's CURRENT_TIMESTAMP."""
        if self.engine.dialect.name == "oracle":
            return select(func.sysdate())
        return select(func.current_timestamp())

    def database_now(self) -> datetime:
        """The database's current time in UTC (SQLite's CURRENT_TIMESTAMP is UTC text)."""
        value = guarded(self.name, "the database's time", lambda: self._scalar(
            self.now_statement()))  # fmt: skip
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if not isinstance(value, datetime):
            raise ConnectorConfigError(f"{self.name}: the database's time is {value!r}")
        if value.tzinfo is None:
            zone = self.zone if self.engine.dialect.name == "oracle" else UTC
            value = value.replace(tzinfo=zone)
        return value.astimezone(UTC)

    def _actual(self, row: dict[str, Any]) -> Any:
        s = self.settings
        return n.actual_record(row, self.zone, burdened=s.cost == "burdened",
                               base_currency=s.base_currency)  # fmt: skip

    def _project_scope(self, stream: str, scope: str) -> Iterator[Page]:
        """`--project`: the project's cost lines in full (SEGMENT1 = the scope's key), between
        ScopeStart and ScopeEnd, so a line EBS no longer lists (purged, archived) is
        reversed; no checkpoint moves. Other streams refuse a scope."""
        kind, _, number = scope.partition(":")
        if stream != "actuals" or kind != "project" or not number:
            raise ConnectorConfigError(
                f"{self.name}: stream {stream} cannot re-sync {scope} (actuals re-sync a "
                "project; other streams: a full sync, --full)"
            )
        statement = self.actuals_statement(None).where(P.c.SEGMENT1 == number)
        what = f"{self.name}.{stream} {scope}"
        items = self._items(statement, what, self._actual, n.line_key)
        pages = ordered_pages(items, self.settings.page_size, checkpoints=False)
        return scoped(scope, pages, markers_apart=True)

    def _budgets(self, since: datetime | None, what: str) -> Iterator[Item]:
        """Baselined versions in LAST_UPDATE_DATE order, each with its lines (read per chunk
        of versions), as records."""
        versions = self.rows(self.versions_statement(since), what)
        while True:
            chunk = [v for _, v in zip(range(VERSIONS_PER_QUERY), versions, strict=False)]
            if not chunk:
                return
            ids = [int(v["BUDGET_VERSION_ID"]) for v in chunk]
            lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
            for row in self.rows(self.budget_lines_statement(ids), what):
                lines[int(row["BUDGET_VERSION_ID"])].append(row)
            for v in chunk:
                key = int(v["BUDGET_VERSION_ID"])
                at = n.utc(v.get("LAST_UPDATE_DATE"), self.zone)
                try:
                    currency = str(v.get("PROJECT_CURRENCY_CODE") or "")
                    records = [
                        n.budget_line(row, self.period(row["START_DATE"]), currency,
                                      burdened=self.settings.cost == "burdened")
                        for row in lines[key]
                    ]  # fmt: skip
                    yield from n.budget_records(v, records, self.zone)
                except (ValueError, TypeError, KeyError) as error:
                    reason = {"error": str(error)}
                    yield Marked(at, Rejected(str(key), "unreadable_row", reason))

    def period(self, value: Any) -> str:
        """The ledger period (YYYY-PP) of a budget line's START_DATE."""
        d = n.day(value)
        if d is None:
            raise ValueError("START_DATE is empty")
        for spec in periods_overlapping(self.context.calendar, d, d):
            if spec.start_on <= d <= spec.end_on and not spec.special:
                return spec.key
        raise ValueError(f"START_DATE {d} is in no period of the ledger's calendar")

    # --- the contract's other calls -------------------------------------------------------------

    def check(self) -> None:
        """One cheap statement: the number of non-template projects."""
        statement = select(func.count()).select_from(P).where(not_template())
        guarded(self.name, "check", lambda: self._scalar(statement))

    def _scalar(self, statement: Select[Any]) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(statement).scalar()

    def control_totals(self, stream: str) -> list[SourceTotal] | None:
        """Per project and currency, the database's own SUM and COUNT of what a full read of
        `stream` lists: actuals (the cost that counts, labor hours), budgets (the current
        baselined version's lines). None for other streams."""
        if stream == "actuals":
            statement = self.actual_totals_statement()
        elif stream == "budgets":
            statement = self.budget_totals_statement()
        else:
            return None
        rows = guarded(self.name, f"{stream} control totals", lambda: self._all(statement))
        return [
            SourceTotal(
                str(r[0]), str(r[1]), int(r[2]),
                n.number({"v": r[3]}, "v") or _ZERO,
                n.number({"v": r[4]}, "v") or _ZERO,
            )
            for r in rows
        ]  # fmt: skip

    def _all(self, statement: Select[Any]) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(statement))

    def actual_totals_statement(self) -> Select[Any]:
        present: Any = CDL.c.PROJECT_RAW_COST
        amount: Any = CDL.c.PROJECT_RAW_COST
        if self.settings.cost == "burdened":  # with the burden change (normalize.cost)
            present = CDL.c.PROJECT_BURDENED_COST
            amount = present + func.coalesce(CDL.c.PROJECT_BURDENED_CHANGE, 0)
        is_labor = EI.c.SYSTEM_LINKAGE_FUNCTION.in_(LABOR_LINKAGES)
        hours = func.sum(case((is_labor, CDL.c.QUANTITY), else_=literal(0)))
        return (
            select(P.c.SEGMENT1, CDL.c.PROJECT_CURRENCY_CODE, func.count(),
                   func.coalesce(func.sum(amount), 0), func.coalesce(hours, 0))
            .select_from(self._lines_from())
            .where(*self._lines_where(), present.is_not(None),
                   CDL.c.PROJECT_CURRENCY_CODE.is_not(None))
            .group_by(P.c.SEGMENT1, CDL.c.PROJECT_CURRENCY_CODE)
            .order_by(P.c.SEGMENT1, CDL.c.PROJECT_CURRENCY_CODE)
        )  # fmt: skip

    def budget_totals_statement(self) -> Select[Any]:
        burdened = self.settings.cost == "burdened"
        amount = BL.c.PROJECT_BURDENED_COST if burdened else BL.c.PROJECT_RAW_COST
        is_hours = RA.c.UNIT_OF_MEASURE == n.HOURS_UOM
        hours = func.sum(case((is_hours, BL.c.QUANTITY), else_=literal(0)))
        currency = P.c.PROJECT_CURRENCY_CODE
        where = [
            BV.c.BUDGET_TYPE_CODE == self.settings.budget_type,
            BV.c.BUDGET_STATUS_CODE == BASELINED,
            BV.c.CURRENT_FLAG == "Y",
            not_template(),
            *self._orgs(P.c.ORG_ID),
        ]
        return (
            select(P.c.SEGMENT1, currency, func.count(), func.coalesce(func.sum(amount), 0),
                   func.coalesce(hours, 0))
            .select_from(
                BL.join(BV, BV.c.BUDGET_VERSION_ID == BL.c.BUDGET_VERSION_ID)
                .join(RA, RA.c.RESOURCE_ASSIGNMENT_ID == BL.c.RESOURCE_ASSIGNMENT_ID)
                .join(P, P.c.PROJECT_ID == BV.c.PROJECT_ID)
            )
            .where(*where)
            .group_by(P.c.SEGMENT1, currency)
            .order_by(P.c.SEGMENT1, currency)
        )  # fmt: skip

