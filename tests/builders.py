"""Small builders for test data: records, settings and one-call batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import ActualLine, LedgerEntry, Project, ProjectLink
from pmo_ledger.ledger.records import ActualRecord, Record
from pmo_ledger.ledger.settings import AuthoritySettings, LedgerSettings
from pmo_ledger.ledger.write import BatchResult, apply_batch

T0 = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)


def settings(**overrides: Any) -> LedgerSettings:
    """Ledger settings for tests: USD base, manual rates, 'psa' the authority unless overridden."""
    base: dict[str, Any] = {
        "url": "sqlite://",
        "base_currency": "USD",
        "rate_sources": ["manual"],
        "authority": AuthoritySettings(
            projects="psa", labor="psa", expense="psa", hours="psa", revenue="psa", budget="psa"
        ),
    }
    base.update(overrides)
    return LedgerSettings(**base)


def sole_authority(source: str) -> AuthoritySettings:
    """`source` the authority for projects and every measure."""
    return AuthoritySettings(
        projects=source, labor=source, expense=source, hours=source, revenue=source, budget=source
    )


def actual(external_id: str, amount: str | None = "100.00", **kw: Any) -> ActualRecord:
    """An actual on project ref 'P1' posted 2025-10-15 in USD."""
    values: dict[str, Any] = {
        "external_id": external_id,
        "project_ref": "P1",
        "posted_on": date(2025, 10, 15),
        "currency": "USD",
        "amount": Decimal(amount) if amount is not None else None,
        "cost_type": "expense",
    }
    values.update(kw)
    return ActualRecord(**values)


def add_project(session: Session, code: str, source: str = "psa", ref: str | None = None) -> int:
    """A ledger project with a project_link from `source` ref (default: the code)."""
    now = T0
    pid = session.execute(
        Project.__table__.insert()
        .values(code=code, name=f"Project {code}", created_at=now, updated_at=now)
        .returning(Project.id)
    ).scalar_one()
    session.execute(
        ProjectLink.__table__.insert().values(
            source=source,
            object_type="project",
            external_id=ref or code,
            project_id=pid,
            origin="manual",
            created_at=now,
            updated_at=now,
        )
    )
    return int(pid)


def load(
    session: Session,
    records: Sequence[Record] = (),
    *,
    source: str = "psa",
    stream: str = "actuals",
    cfg: LedgerSettings | None = None,
    at: datetime | None = None,
    commit: bool = True,
    **kw: Any,
) -> BatchResult:
    """Apply one batch and commit it."""
    result = apply_batch(session, cfg or settings(), source, stream, records, recorded_at=at, **kw)
    if commit:
        session.commit()
    return result


def project_total(
    session: Session, project_id: int, as_known_at: datetime | None = None
) -> Decimal:
    """Counting base amount of a project from the entries (as known at T when given)."""
    q = select(func.coalesce(func.sum(LedgerEntry.base_delta), 0)).where(
        LedgerEntry.project_id == project_id, LedgerEntry.counts_amount.is_(True)
    )
    if as_known_at is not None:
        q = q.where(LedgerEntry.recorded_at <= as_known_at)
    return Decimal(session.scalar(q) or 0)


def line(session: Session, external_id: str, source: str = "psa") -> ActualLine:
    """The stored line of a key."""
    return session.scalars(
        select(ActualLine).where(ActualLine.external_id == external_id, ActualLine.source == source)
    ).one()


def counts(session: Session) -> dict[str, int]:
    """Row counts of the tables a replay must not change."""
    return {
        t: int(session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
        for t in ("actual_line", "ledger_entry", "quarantine", "actual_period_total")
    }


def assert_entries_match_lines(session: Session) -> None:
    """For every line, the sum of its entries equals its live values in every delta column."""
    al, le = ActualLine, LedgerEntry
    rows = session.execute(
        select(
            al.id,
            al.deleted_at,
            al.amount,
            al.base_amount,
            al.hours,
            func.sum(le.amount_delta),
            func.sum(le.base_delta),
            func.sum(le.hours_delta),
        )
        .outerjoin(le, le.line_id == al.id)
        .group_by(al.id, al.deleted_at, al.amount, al.base_amount, al.hours)
    ).all()
    assert rows, "no lines to check"
    for lid, deleted_at, *values_and_sums in rows:
        for value, total in zip(values_and_sums[:3], values_and_sums[3:], strict=True):
            expected = Decimal(0) if deleted_at is not None or value is None else value
            assert (total or Decimal(0)) == expected, (
                f"line {lid}: entries {total} != line {expected}"
            )


def leave_ids_free(session: Session, ahead: int = 50) -> int:
    """A row committed out of order: a zero copy of the last ledger entry with an id `ahead`
    past the last (a batch that took later ids and committed first), which leaves ids free
    under it. Returns its id."""
    last = session.scalars(select(LedgerEntry).order_by(LedgerEntry.id.desc()).limit(1)).one()
    values = {c.key: getattr(last, c.key) for c in LedgerEntry.__mapper__.column_attrs}
    values.update(id=last.id + ahead, amount_delta=Decimal(0), base_delta=Decimal(0),
                  hours_delta=Decimal(0))  # fmt: skip
    session.execute(insert(LedgerEntry), [values])
    session.commit()
    return last.id + ahead
