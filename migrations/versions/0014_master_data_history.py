"""Master data history (issue 23): an append-only `<table>_history` per table the writers
update in place (portfolio, program, project, project_link, task, task_dependency, resource,
resource_capacity, allocation), written by database triggers, so that a report as known at a
past time shows the names, memberships, dates, plans and capacity the ledger held then.

Each history table holds the table's columns (as they are at this revision), a `history_id`,
`recorded_at` (UTC) and `operation` (I, U, D). Triggers on INSERT, UPDATE (only when a column
other than `updated_at` changed) and DELETE write one version per row:

- `recorded_at` is the row's new `updated_at` (the writer's batch time, as `ledger_entry`'s
  recorded_at, DESIGN rule 3) when it is later than the row's last version, else the database's
  current UTC time, never earlier than the last version (a path that forgot to bump
  `updated_at` is still recorded, at the time the database saw it);
- a hard DELETE records a tombstone (`D`, the row's last values) at the database's time.

SQLite stores UtcDateTime as naive UTC text `YYYY-MM-DD HH:MM:SS.ffffff` (SQLAlchemy's
format), so its clock is written the same way (`strftime('%f')` gives milliseconds, padded to
six digits) and compares as text with the values Python binds. PostgreSQL uses `now()` (the
transaction's start, timestamptz). Money and hours columns are copied raw (scaled integers on
SQLite), so no conversion happens.

Upgrade backfills every existing row as its first version recorded at its `created_at`
(resource_capacity, which has none: its `updated_at`): what the ledger holds at this
migration is taken as known since the row was created, which is what reports showed before
this revision. History before the migration is therefore the state known at the migration.

Downgrade drops the triggers (and PostgreSQL's trigger functions) and the history tables.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pmo_ledger.ledger import types as ledger_types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

#: Each tracked table's columns at this revision, `name:type`, in the table's order.
_COLUMNS = {
    "portfolio": "id:int code:s100 name:s255 created_at:ts updated_at:ts",
    "program": "id:int code:s100 name:s255 portfolio_id:int created_at:ts updated_at:ts",
    "project": (
        "id:int code:s100 name:s255 portfolio_id:int program_id:int status:s40 condition:s20 "
        "currency:s3 manager:s255 planned_start:date planned_finish:date actual_start:date "
        "actual_finish:date closed_on:date percent_complete:dec source:s100 external_id:s255 "
        "source_url:text merged_into_id:int deleted_at:ts created_at:ts updated_at:ts"
    ),
    "project_link": (
        "id:int source:s100 object_type:s40 external_id:s255 project_id:int origin:s20 "
        "created_at:ts updated_at:ts"
    ),
    "task": (
        "id:int source:s100 external_id:s255 project_id:int parent_id:int wbs_code:s100 "
        "name:s255 planned_start:date planned_finish:date actual_start:date actual_finish:date "
        "effort_hours:dec percent_complete:dec optimistic_days:dec most_likely_days:dec "
        "pessimistic_days:dec source_url:text content_hash:s64 deleted_at:ts created_at:ts "
        "updated_at:ts"
    ),
    "task_dependency": (
        "id:int source:s100 external_id:s255 predecessor_id:int successor_id:int "
        "dependency_type:s2 lag_days:dec deleted_at:ts created_at:ts updated_at:ts"
    ),
    "resource": (
        "id:int source:s100 external_id:s255 name:s255 email:s255 role:s100 department:s100 "
        "active:bool content_hash:s64 deleted_at:ts created_at:ts updated_at:ts"
    ),
    "resource_capacity": "id:int resource_id:int period:s7 hours:dec source:s100 updated_at:ts",
    "allocation": (
        "id:int source:s100 stream:s100 external_id:s255 resource_id:int role:s100 "
        "project_id:int task_id:int period:s7 planned_hours:dec deleted_at:ts created_at:ts "
        "updated_at:ts"
    ),
}
#: SQLite's clock in SQLAlchemy's storage format of a naive UTC datetime.
_SQLITE_NOW = "(strftime('%Y-%m-%d %H:%M:%f', 'now') || '000')"


def _type(code: str) -> sa.types.TypeEngine[object]:
    if code.startswith("s"):
        return sa.String(length=int(code[1:]))
    kinds: dict[str, sa.types.TypeEngine[object]] = {
        "int": sa.Integer(),
        "text": sa.Text(),
        "date": sa.Date(),
        "bool": sa.Boolean(),
        "dec": ledger_types.ExactDecimal(precision=14, scale=4),
        "ts": ledger_types.UtcDateTime(timezone=True),
    }
    return kinds[code]


def _columns(table: str) -> list[tuple[str, str]]:
    return [(c.split(":")[0], c.split(":")[1]) for c in _COLUMNS[table].split()]


def _sqlite_triggers(table: str, names: list[str]) -> list[str]:
    h = f"{table}_history"
    cols = ", ".join(names)
    last = f"(SELECT max(recorded_at) FROM {h} WHERE id = {{row}}.id)"

    def version(row: str, when: str, operation: str) -> str:
        values = ", ".join(f"{row}.{c}" for c in names)
        return (
            f"INSERT INTO {h} ({cols}, recorded_at, operation) "
            f"VALUES ({values}, {when}, '{operation}');"
        )

    last_new, last_old = last.format(row="NEW"), last.format(row="OLD")
    if "updated_at" in names:
        stamped = (
            f"CASE WHEN NEW.updated_at > coalesce({last_new}, '') THEN NEW.updated_at "
            f"ELSE max({_SQLITE_NOW}, coalesce({last_new}, '')) END"
        )
    else:  # pragma: no cover - every tracked table has updated_at
        stamped = f"max({_SQLITE_NOW}, coalesce({last_new}, ''))"
    changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in names if c != "updated_at")
    deleted = f"max({_SQLITE_NOW}, coalesce({last_old}, ''))"
    return [
        f"CREATE TRIGGER {h}_insert AFTER INSERT ON {table} BEGIN "
        f"{version('NEW', stamped, 'I')} END",
        f"CREATE TRIGGER {h}_update AFTER UPDATE ON {table} WHEN {changed} BEGIN "
        f"{version('NEW', stamped, 'U')} END",
        f"CREATE TRIGGER {h}_delete AFTER DELETE ON {table} BEGIN "
        f"{version('OLD', deleted, 'D')} END",
    ]


def _postgresql_triggers(table: str, names: list[str]) -> list[str]:
    h = f"{table}_history"
    cols = ", ".join(names)

    def values(row: str) -> str:
        return ", ".join(f"{row}.{c}" for c in names)

    old_row = ", ".join(f"OLD.{c}" for c in names if c != "updated_at")
    new_row = ", ".join(f"NEW.{c}" for c in names if c != "updated_at")
    return [
        f"""CREATE FUNCTION {h}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last timestamptz;
    stamp timestamptz;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT max(recorded_at) INTO last FROM {h} WHERE id = OLD.id;
        INSERT INTO {h} ({cols}, recorded_at, operation)
        VALUES ({values("OLD")}, greatest(now(), last), 'D');
        RETURN OLD;
    END IF;
    SELECT max(recorded_at) INTO last FROM {h} WHERE id = NEW.id;
    IF NEW.updated_at IS NOT NULL AND (last IS NULL OR NEW.updated_at > last) THEN
        stamp := NEW.updated_at;
    ELSE
        stamp := greatest(now(), last);
    END IF;
    INSERT INTO {h} ({cols}, recorded_at, operation)
    VALUES ({values("NEW")}, stamp, left(TG_OP, 1));
    RETURN NEW;
END
$$""",
        f"CREATE TRIGGER {h}_insert_delete AFTER INSERT OR DELETE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {h}()",
        f"CREATE TRIGGER {h}_update AFTER UPDATE ON {table} FOR EACH ROW "
        f"WHEN (({old_row}) IS DISTINCT FROM ({new_row})) EXECUTE FUNCTION {h}()",
    ]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in _COLUMNS:
        h = f"{table}_history"
        columns = _columns(table)
        names = [n for n, _ in columns]
        op.create_table(
            h,
            sa.Column("history_id", sa.Integer(), nullable=False),
            *(sa.Column(n, _type(t), nullable=n != "id") for n, t in columns),
            sa.Column("recorded_at", ledger_types.UtcDateTime(timezone=True), nullable=False),
            sa.Column("operation", sa.String(length=1), nullable=False),
            sa.PrimaryKeyConstraint("history_id", name=op.f(f"pk_{h}")),
        )
        op.create_index(op.f(f"ix_{h}_id"), h, ["id", "recorded_at"], unique=False)
        since = "coalesce(created_at, updated_at)" if "created_at" in names else "updated_at"
        cols = ", ".join(names)
        op.execute(
            f"INSERT INTO {h} ({cols}, recorded_at, operation) "
            f"SELECT {cols}, {since}, 'I' FROM {table} ORDER BY id"
        )
        for statement in (_sqlite_triggers if sqlite else _postgresql_triggers)(table, names):
            op.execute(statement)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in reversed(list(_COLUMNS)):
        h = f"{table}_history"
        if sqlite:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {h}_{event}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {h}_insert_delete ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {h}_update ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {h}()")
        op.drop_index(op.f(f"ix_{h}_id"), table_name=h)
        op.drop_table(h)
