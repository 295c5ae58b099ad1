"""Where a stream's read stands: its `sync_state` row, written in the transaction of a batch.

`store_checkpoint` records the furthest checkpoint a committed batch reached (with the stream
fingerprint it was read with and the run), when the stream last read to its end, or where a
full read that stopped early continues (`resume`). `forget_resume` voids what such a read
kept once the stream's own scope ended (its position, and its listed keys in `scope_listed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import null, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import SyncState, table_of, utcnow
from pmo_ledger.ledger.upsert import upsert
from pmo_ledger.ledger.write.scopes import drop_listed


def store_checkpoint(
    session: Session,
    source: str,
    stream: str,
    *,
    run_id: int | None,
    fingerprint: str | None,
    checkpoint: Mapping[str, Any] | None = None,
    finished_at: datetime | None = None,
    resume: Mapping[str, Any] | None = None,
) -> None:
    """Upsert the stream's sync_state row: the fingerprint (config_hash), run and updated_at,
    and whichever of `checkpoint` (a cursor's JSON), `finished_at` and `resume` is given; the
    others keep what is stored."""
    given = {"checkpoint": checkpoint, "finished_at": finished_at, "resume": resume}
    row = {
        "connector": source,
        "stream": stream,
        "config_hash": fingerprint,
        "run_id": run_id,
        "updated_at": utcnow(),
        **{column: value for column, value in given.items() if value is not None},
    }
    upsert(
        session,
        table_of(SyncState),
        [row],
        ["connector", "stream"],
        update=[k for k in row if k not in ("connector", "stream")],
    )


def forget_resume(session: Session, source: str, stream: str) -> None:
    """The stream's own scope ended: what an unfinished read of it kept is void."""
    drop_listed(session, source, stream, stream)
    session.execute(
        update(SyncState)
        .where(SyncState.connector == source, SyncState.stream == stream)
        .values(resume=null())
    )
