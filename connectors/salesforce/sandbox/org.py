"""The fake org: records per object, an org clock, a delete log. Thread-safe.

The clock is the org's own, not the wall clock: it starts at a fixed instant and every write
advances it by one second, so SystemModstamp values are unique and ordered and a test can
predict them. `advance` and `set_now` move it on (never back).

Writes model what a connector must cope with:
- `update` is a user edit: LastModifiedDate and SystemModstamp move.
- `system_update` is an automated process: only SystemModstamp moves.
- `update_silently` changes values and no stamp at all ("changed behind the connector's back",
  e.g. a formula or a back-dated import a delta read cannot see).
- `delete` moves a record to the recycle bin: IsDeleted = true (queryAll still returns it) and a
  delete-log entry for getDeleted. `purge_delete_log(before)` empties both up to `before`, and
  getDeleted's earliestDateAvailable moves to `before`.

`drop_field` takes a field out of the org's schema (an org without that package field, or one
whose field-level security hides it from the integration user): `describe` no longer lists it
and a query naming it is 400 INVALID_FIELD "No such column 'X' on entity 'Y'...".

Rows are replaced, never changed in place, so a query's snapshot stays as it was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from pmo_ledger.connectors.kit.sandbox_clock import TickingClock
from pmo_ledger.connectors.salesforce.sandbox.ids import IdFactory, same_id, to18
from pmo_ledger.connectors.salesforce.sandbox.schema import (
    SYSTEM_FIELDS,
    FieldType,
    ObjectDef,
    psa_schema,
)
from pmo_ledger.connectors.salesforce.sandbox.values import Value, coerce

#: The default start of the org clock.
DEFAULT_START = datetime(2025, 1, 2, 8, 0, tzinfo=UTC)

Row = Mapping[str, Value]


@dataclass(frozen=True, slots=True)
class Deletion:
    """A delete-log entry."""

    id: str
    deleted_at: datetime


class FakeOrg(TickingClock):
    """An in-memory Salesforce org with the Certinia PSA objects (see `schema.psa_schema`)."""

    def __init__(
        self,
        *,
        start: datetime = DEFAULT_START,
        multi_currency: bool = True,
        corporate_currency: str = "USD",
        pod: str = "5g",
    ) -> None:
        super().__init__(start, name="org clock")
        self.schema: dict[str, ObjectDef] = psa_schema(multi_currency=multi_currency)
        self.multi_currency = multi_currency
        self.corporate_currency = corporate_currency
        self.org_id = to18(f"00D{pod}0000000001")
        self.user_id = to18(f"005{pod}0000000001")
        self._ids = IdFactory(pod)
        self._earliest_available = self._now
        self._rows: dict[str, dict[str, Row]] = {name: {} for name in self.schema}
        self._delete_log: dict[str, dict[str, datetime]] = {name: {} for name in self.schema}
        self._lock = threading.RLock()

    # --- reading -------------------------------------------------------------------------
    def describe(self, name: str) -> ObjectDef:
        """The object of this name (any case). Raises KeyError."""
        for obj in self.schema.values():
            if obj.name.casefold() == name.casefold():
                return obj
        raise KeyError(f"no object {name!r} in the org")

    def drop_field(self, sobject: str, field: str) -> None:
        """The org no longer has `field` on `sobject` (see the module docstring). Raises
        KeyError for an unknown object or field, ValueError for a system field."""
        obj = self.describe(sobject)
        found = obj.field(field)
        if found is None:
            raise KeyError(f"no field {field!r} on {obj.name}")
        if found.name in SYSTEM_FIELDS:
            raise ValueError(f"{found.name} is a system field: every object has it")
        kept = tuple(f for f in obj.fields if f is not found)
        with self._lock:
            self.schema[obj.name] = ObjectDef(obj.name, obj.key_prefix, obj.label, kept)

    def get(self, sobject: str, record_id: str) -> dict[str, Value]:
        """A copy of one record (deleted ones too). Raises KeyError."""
        with self._lock:
            return dict(self._row(self.describe(sobject).name, record_id))

    def rows(self, sobject: str, *, deleted: bool = False) -> list[dict[str, Value]]:
        """Copies of the records of an object in creation order; `deleted`: recycle bin too."""
        with self._lock:
            table = self._rows[self.describe(sobject).name]
            return [dict(r) for r in table.values() if deleted or not r["IsDeleted"]]

    def snapshot(self, sobjects: Iterable[str]) -> dict[str, dict[str, Row]]:
        """The records of these objects as they are now (id -> row), for one query."""
        with self._lock:
            return {name: dict(self._rows[name]) for name in sobjects}

    def deletions(self, sobject: str) -> list[Deletion]:
        """The delete log of an object, oldest first."""
        with self._lock:
            log = self._delete_log[self.describe(sobject).name]
            return sorted((Deletion(i, at) for i, at in log.items()), key=lambda d: d.deleted_at)

    def earliest_date_available(self) -> datetime:
        """Where the delete log starts: the org's start, or the last purge."""
        with self._lock:
            return self._earliest_available

    def _row(self, sobject: str, record_id: str) -> Row:
        table = self._rows[sobject]
        row = table.get(to18(record_id)) if len(record_id) in (15, 18) else None
        if row is None:
            row = next((r for i, r in table.items() if same_id(i, record_id)), None)
        if row is None:
            raise KeyError(f"no {sobject} {record_id}")
        return row

    # --- writing -------------------------------------------------------------------------
    def insert(self, sobject: str, **fields: object) -> str:
        """Create a record; returns its 18-character id. Unset checkboxes are false,
        CurrencyIsoCode defaults to the corporate currency. Raises KeyError / ValueError."""
        obj = self.describe(sobject)
        with self._lock:
            values = self._checked(obj, fields)
            stamp = self._tick()
            record_id = self._ids.new(obj.key_prefix)
            row: dict[str, Value] = {f.name: None for f in obj.fields}
            row |= {f.name: False for f in obj.fields if f.type is FieldType.BOOLEAN}
            if obj.field("CurrencyIsoCode"):
                row["CurrencyIsoCode"] = self.corporate_currency
            row |= values
            row |= {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": stamp,
                "LastModifiedDate": stamp,
                "SystemModstamp": stamp,
            }
            self._rows[obj.name][record_id] = _named(obj, row)
            return record_id

    def update(self, sobject: str, record_id: str, **fields: object) -> None:
        """A user's edit: values change, LastModifiedDate and SystemModstamp move."""
        self._write(sobject, record_id, fields, ("LastModifiedDate", "SystemModstamp"))

    def system_update(self, sobject: str, record_id: str, **fields: object) -> None:
        """An automated process's edit: only SystemModstamp moves."""
        self._write(sobject, record_id, fields, ("SystemModstamp",))

    def update_silently(self, sobject: str, record_id: str, **fields: object) -> None:
        """Values change, no stamp moves: a delta read on SystemModstamp cannot see it."""
        self._write(sobject, record_id, fields, ())

    def delete(self, sobject: str, record_id: str) -> datetime:
        """Move a record to the recycle bin; returns its deletedDate."""
        obj = self.describe(sobject)
        with self._lock:
            row = self._row(obj.name, record_id)
            if row["IsDeleted"]:
                raise ValueError(f"{obj.name} {record_id} is already deleted")
            stamp = self._stamp(
                obj, row, {"IsDeleted": True}, ("LastModifiedDate", "SystemModstamp")
            )
            self._delete_log[obj.name][str(row["Id"])] = stamp
            return stamp

    def undelete(self, sobject: str, record_id: str) -> None:
        """Restore a record from the recycle bin (SystemModstamp moves)."""
        obj = self.describe(sobject)
        with self._lock:
            row = self._row(obj.name, record_id)
            if not row["IsDeleted"]:
                raise ValueError(f"{obj.name} {record_id} is not deleted")
            self._stamp(obj, row, {"IsDeleted": False}, ("SystemModstamp",))
            self._delete_log[obj.name].pop(str(row["Id"]), None)

    def purge_delete_log(self, before: datetime) -> int:
        """Empty the recycle bin and delete log up to `before` (deleted records go for good);
        earliestDateAvailable becomes `before`. Returns how many records went."""
        if before.tzinfo is None:
            raise ValueError("a timezone-aware datetime is needed")
        with self._lock:
            purged = 0
            for name, log in self._delete_log.items():
                for record_id, at in list(log.items()):
                    if at < before:
                        del log[record_id]
                        del self._rows[name][record_id]
                        purged += 1
            self._earliest_available = max(self._earliest_available, before.astimezone(UTC))
            return purged

    def _write(
        self, sobject: str, record_id: str, fields: dict[str, object], stamps: tuple[str, ...]
    ) -> None:
        obj = self.describe(sobject)
        with self._lock:
            row = self._row(obj.name, record_id)
            self._stamp(obj, row, self._checked(obj, fields), stamps)

    def _stamp(
        self, obj: ObjectDef, row: Row, values: dict[str, Value], stamps: tuple[str, ...]
    ) -> datetime:
        stamp = self._tick() if stamps else self._now
        new = dict(row) | values | dict.fromkeys(stamps, stamp)
        self._rows[obj.name][str(row["Id"])] = _named(obj, new)
        return stamp

    def _checked(self, obj: ObjectDef, fields: Mapping[str, object]) -> dict[str, Value]:
        values: dict[str, Value] = {}
        for name, raw in fields.items():
            field = obj.field(name)
            if field is None:
                raise KeyError(f"no field {name!r} on {obj.name}")
            if field.name in SYSTEM_FIELDS:
                raise ValueError(f"{field.name} is set by the org, not by a write")
            value = coerce(field.type, raw)
            if field.type is FieldType.REFERENCE and value is not None:
                target = field.reference_to or ""
                value = str(self._row(target, str(value))["Id"])
            values[field.name] = value
        return values


def _named(obj: ObjectDef, row: dict[str, Value]) -> dict[str, Value]:
    """A Contact's Name follows FirstName and LastName, as the compound field does."""
    if obj.name == "Contact":
        parts = [row.get("FirstName"), row.get("LastName")]
        row["Name"] = " ".join(str(p) for p in parts if p) or None
    return row
