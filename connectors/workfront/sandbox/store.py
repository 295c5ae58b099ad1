"""The fake Workfront's records: rows per object code, the account's clock and time zone, and
the journal. Thread-safe.

The clock is the account's own (`connectors.kit.sandbox_clock`): every write advances it by one
second, so `lastUpdateDate` values are unique and ordered and a test can predict them.

Writes model what Workfront does:
- `insert` stamps `entryDate` and `lastUpdateDate` (where the object has them);
- `update` changes fields and moves `lastUpdateDate` (a user edit; `touch` moves only it);
- `delete` removes the row outright, as Workfront deletes hours and expenses: nothing is left
  to search. With the journal on, a journal entry (JRNLE) records it: `changeType` `D`,
  `subObjCode`/`subObjID` the deleted record, `objObjCode`/`objID` the task or project it was
  logged on, `oldNumberVal` its hours (or amount), `entryDate` the deletion's time
  (experienceleague "Track hour records with the Workfront API"). Adds are `A` and edits of
  the number are `E` entries, for HOUR and EXPNS only.
- `journal_enabled = False` is an account whose journal does not track hours and expenses:
  no entries are written and reading JRNLE is refused (the API answers the error).

IDs are 32 lower-case hex digits from a hash of (seed, object, counter): deterministic, and
their sort order is not the order of insertion (so a client that pages by ID is tested).
Rows are replaced, never changed in place, so a search's snapshot stays as it was.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from pmo_ledger.connectors.kit.sandbox_clock import TickingClock
from pmo_ledger.connectors.workfront.sandbox.schema import OBJECTS, FieldType, ObjectDef
from pmo_ledger.connectors.workfront.sandbox.values import Value

#: The default start of the account clock.
DEFAULT_START = datetime(2025, 7, 1, 14, 0, tzinfo=UTC)
#: The account's time zone (the docs' example offset, -0600, is Mountain daylight time).
DEFAULT_ZONE = "America/Denver"
#: Objects whose adds, edits and deletes the journal records.
JOURNALED = ("HOUR", "EXPNS")
#: The number a journal entry carries for each journaled object.
_JOURNAL_NUMBER = {"HOUR": "hours", "EXPNS": "actualAmount"}

Row = Mapping[str, Value]


class UnknownRecord(KeyError):
    """No record of that object with that ID."""


class FakeWorkfront(TickingClock):
    """An in-memory Workfront account: the objects of `schema.OBJECTS`."""

    def __init__(
        self, *, start: datetime = DEFAULT_START, zone: str = DEFAULT_ZONE, seed: int = 0
    ) -> None:
        super().__init__(start, name="account clock")
        self.zone = ZoneInfo(zone)
        self.journal_enabled = True
        #: Moves on at every write: what a cached sorted result is checked against.
        self.version = 0
        self._seed = seed
        self._rows: dict[str, dict[str, Row]] = {code: {} for code in OBJECTS}
        self._counters: dict[str, int] = dict.fromkeys(OBJECTS, 0)
        self._lock = threading.RLock()

    # --- reads ---------------------------------------------------------------------------
    def rows(self, code: str) -> list[Row]:
        """A snapshot of every row of an object, in insertion order."""
        with self._lock:
            return list(self._rows[code].values())

    def get(self, code: str, record_id: str) -> Row:
        with self._lock:
            try:
                return self._rows[code][record_id]
            except KeyError:
                raise UnknownRecord(f"{code} {record_id}") from None

    def find(self, code: str, record_id: str | None) -> Row | None:
        """The row, or None (a reference to nothing)."""
        if record_id is None:
            return None
        with self._lock:
            return self._rows[code].get(record_id)

    def count(self, code: str) -> int:
        with self._lock:
            return len(self._rows[code])

    # --- writes --------------------------------------------------------------------------
    def new_id(self, code: str) -> str:
        with self._lock:
            self._counters[code] += 1
            key = f"{self._seed}:{code}:{self._counters[code]}".encode()
        return hashlib.blake2b(key, digest_size=16).hexdigest()

    def insert(self, code: str, values: Mapping[str, Value], *, at: datetime | None = None) -> str:
        """Add a record; returns its ID. `at` back-dates its stamps (the seed's history)."""
        obj = OBJECTS[code]
        _check_fields(obj, values)
        with self._lock:
            self.version += 1
            stamp = at.astimezone(UTC) if at is not None else self._tick()
            record_id = str(values.get("ID") or self.new_id(code))
            row: dict[str, Value] = dict.fromkeys(obj.fields)
            row.update(values)
            row["ID"] = record_id
            for name in ("entryDate", "lastUpdateDate"):
                # An hour's entryDate is its business date, not a creation stamp.
                stamped = obj.fields.get(name) is FieldType.DATETIME
                if stamped and values.get(name) is None:
                    row[name] = stamp
            self._rows[code][record_id] = row
            if code in JOURNALED:
                self._journal(code, row, "A", None, row.get(_JOURNAL_NUMBER[code]), stamp)
            return record_id

    def update(self, code: str, record_id: str, values: Mapping[str, Value]) -> Row:
        """Change fields of a record (a user edit: `lastUpdateDate` moves); returns the row."""
        obj = OBJECTS[code]
        _check_fields(obj, values)
        with self._lock:
            old = self.get(code, record_id)
            self.version += 1
            stamp = self._tick()
            row = {**old, **values}
            if obj.has("lastUpdateDate"):
                row["lastUpdateDate"] = stamp
            self._rows[code][record_id] = row
            number = _JOURNAL_NUMBER.get(code)
            if number and number in values and old.get(number) != row.get(number):
                self._journal(code, row, "E", old.get(number), row.get(number), stamp)
            return row

    def touch(self, code: str, record_id: str) -> Row:
        """Move only `lastUpdateDate` (a save that changed nothing a client reads)."""
        return self.update(code, record_id, {})

    def delete(self, code: str, record_id: str) -> Row:
        """Remove a record outright (journaled for HOUR/EXPNS); returns what it was."""
        with self._lock:
            old = self.get(code, record_id)
            self.version += 1
            del self._rows[code][record_id]
            stamp = self._tick()
            if code in JOURNALED:
                self._journal(code, old, "D", old.get(_JOURNAL_NUMBER[code]), None, stamp)
            return old

    def delete_many(self, code: str, record_ids: Iterable[str]) -> int:
        return sum(1 for record_id in list(record_ids) if self.delete(code, record_id))

    def _journal(
        self,
        code: str,
        row: Row,
        change: str,
        old: Value,
        new: Value,
        stamp: datetime,
    ) -> None:
        if not self.journal_enabled:
            return
        parent_code, parent_id = "PROJ", row.get("projectID")
        if row.get("taskID"):
            parent_code, parent_id = "TASK", row.get("taskID")
        owner = self.find("USER", _text(row.get("ownerID")))
        journal_id = self.new_id("JRNLE")
        self._rows["JRNLE"][journal_id] = {
            **dict.fromkeys(OBJECTS["JRNLE"].fields),
            "ID": journal_id,
            "changeType": change,
            "fieldName": _JOURNAL_NUMBER[code],
            "objObjCode": parent_code if parent_id else None,
            "objID": parent_id,
            "subObjCode": code,
            "subObjID": row["ID"],
            "topObjCode": "PROJ" if row.get("projectID") else None,
            "topObjID": row.get("projectID"),
            "oldNumberVal": _number(old),
            "newNumberVal": _number(new),
            "aux2": owner.get("name") if owner else None,
            "editedByID": row.get("ownerID"),
            "entryDate": stamp,
        }


def _text(value: Value) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Value) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    return None


def _check_fields(obj: ObjectDef, values: Mapping[str, Value]) -> None:
    unknown = [name for name in values if not obj.has(name)]
    if unknown:
        raise KeyError(f"{obj.code} has no field {', '.join(unknown)}")
