"""Quarantine (rule 5): at most one open entry per (source, stream, external_id).

An entry is replaced by a newer version of its record, left alone by a replay of the same
version or by an older one, and resolved by a successful load or a deletion of its key.
Invalid records stay out of the ledger; unmapped ones are loaded under UNMAPPED and also
hold an open entry here until a mapping places them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import staging
from pmo_ledger.ledger.models import Quarantine, table_of
from pmo_ledger.ledger.records import older_version


def payload_hash(payload: Any) -> str:
    """A stable hash of a JSON-ready payload."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Held:
    """One thing to hold in quarantine."""

    external_id: str | None
    reason: str
    detail: str | None
    payload: Any
    payload_kind: str = "record"  # record (normalized, retryable) | raw (from the source)
    source_modified_at: datetime | None = None

    def key(self) -> str:
        """The external id, or for a raw row without one a key derived from its content."""
        return self.external_id or "#" + payload_hash(self.payload)[:32]


@dataclass(frozen=True, slots=True)
class OpenEntry:
    id: int
    external_id: str
    reason: str
    payload_hash: str
    source_modified_at: datetime | None


def open_entries(
    session: Session, source: str, stream: str, keys: Iterable[str], *, staged: bool = False
) -> dict[str, OpenEntry]:
    """Open entries of these keys, by key (one query over the staged keys). `staged`: the
    caller has just staged exactly these keys in `stage_key` (they are not staged again)."""
    wanted = set(keys)
    if not wanted:
        return {}
    q = Quarantine
    any_open = session.scalar(
        select(q.id).where(q.source == source, q.stream == stream, q.status == "open").limit(1)
    )
    if any_open is None:
        return {}  # the common case: nothing waits for this stream
    if not staged:
        staging.fill_keys(session, list(wanted))
    k = staging.stage_key
    rows = session.execute(
        select(q.id, q.external_id, q.reason, q.payload_hash, q.source_modified_at).join(
            k,
            and_(
                q.source == source,
                q.stream == stream,
                q.status == "open",
                q.external_id == k.c.external_id,
            ),
        )
    )
    return {r.external_id: OpenEntry(*r) for r in rows}


def hold(
    session: Session,
    source: str,
    stream: str,
    items: Sequence[Held],
    *,
    run_id: int | None,
    now: datetime,
) -> int:
    """Put items in quarantine; returns how many entries were added or replaced."""
    if not items:
        return 0
    latest: dict[str, Held] = {}
    for item in items:  # within a batch the last version of a key wins
        latest[item.key()] = item
    current = open_entries(session, source, stream, latest)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for key, item in latest.items():
        digest = payload_hash([item.reason, item.payload])
        row = {
            "reason": item.reason,
            "detail": item.detail,
            "payload_kind": item.payload_kind,
            "payload": item.payload,
            "payload_hash": digest,
            "source_modified_at": item.source_modified_at,
            "run_id": run_id,
            "last_seen_at": now,
        }
        entry = current.get(key)
        if entry is None:
            inserts.append(
                {
                    **row,
                    "source": source,
                    "stream": stream,
                    "external_id": key,
                    "status": "open",
                    "first_seen_at": now,
                }
            )
        elif entry.payload_hash == digest:
            continue  # a replay changes nothing
        elif older_version(item.source_modified_at, entry.source_modified_at):
            continue  # never replace a newer version with an older one
        else:
            updates.append({**row, "b_id": entry.id})
    if inserts:
        session.execute(insert(Quarantine), inserts)
    if updates:
        _update_by_id(session, updates)
    return len(inserts) + len(updates)


def _update_by_id(session: Session, rows: list[dict[str, Any]]) -> None:
    cols = [c for c in rows[0] if c != "b_id"]
    stmt = (
        update(table_of(Quarantine))
        .where(table_of(Quarantine).c.id == bindparam("b_id"))
        .values({c: bindparam(c) for c in cols})
    )
    session.connection().execute(stmt, rows)


def resolve(
    session: Session,
    source: str,
    stream: str,
    loaded: dict[str, datetime | None],
    resolution: str,
    now: datetime,
    *,
    current: dict[str, OpenEntry] | None = None,
    reasons: Sequence[str] | None = None,
) -> int:
    """Resolve open entries of keys that loaded (or were deleted) with a version at least as
    new as the held one. `loaded` maps key -> that version's source_modified_at."""
    if not loaded:
        return 0
    entries = current if current is not None else open_entries(session, source, stream, loaded)
    ids = [
        {"b_id": e.id, "status": "resolved", "resolution": resolution, "resolved_at": now}
        for key, e in entries.items()
        if key in loaded
        and not older_version(loaded[key], e.source_modified_at)
        and (reasons is None or e.reason in reasons)
    ]
    if ids:
        _update_by_id(session, ids)
    return len(ids)
