"""Commands (jobs/cli) and HTTP handlers (jobs/service) hold no SQL: read-side questions are
asked through `pmo_ledger.ledger.queries`, so "list runs" is written once for the CLI and the
API. The scan reads each module's syntax tree and refuses SQL-building names from
SQLAlchemy, the ledger's table classes, and calls of `select(`, `text(`, `exec_driver_sql(`
and `query(`; write-side operator commands that must keep their own SQL are listed below
with the reason."""

from __future__ import annotations

import ast
from pathlib import Path

from pmo_ledger.ledger import models

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("jobs/cli", "jobs/service")
#: What a command or handler may import from SQLAlchemy: its errors (to report them) and the
#: Session and Engine types it passes on to the ledger (None: any name of the module).
SQLALCHEMY_ALLOWED: dict[str, frozenset[str] | None] = {
    "sqlalchemy.exc": None,
    "sqlalchemy.orm": frozenset({"Session"}),
    "sqlalchemy": frozenset({"Engine"}),
}
#: Calls that build or run SQL, by the called name.
SQL_CALLS = frozenset({"select", "text", "exec_driver_sql", "query"})
#: The ORM classes of the ledger's tables.
TABLE_CLASSES = frozenset(m.class_.__name__ for m in models.Base.registry.mappers)
#: Modules allowed some SQL, and why. Read-side SQL never belongs here.
ALLOWED: dict[str, tuple[frozenset[str], str]] = {
    "jobs/cli/db.py": (
        frozenset({"imports sqlalchemy.text", "calls text(", "calls exec_driver_sql("}),
        "`db grant-readonly` is a write-side operator command on PostgreSQL's roles: it runs "
        "CREATE ROLE / GRANT / REVOKE and reads the server's catalogs (pg_roles, privileges) "
        "to check its own grants; it reads no ledger table",
    ),
}


def violations(source: str) -> list[str]:
    """What in `source` (a module's text) builds or runs SQL, or names a ledger table."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"imports {a.name}" for a in node.names if a.name.startswith("sqlalchemy")]
            found += [f"imports {a.name}" for a in node.names if a.name.endswith("ledger.models")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            if module == "sqlalchemy" or module.startswith("sqlalchemy."):
                allowed = SQLALCHEMY_ALLOWED.get(module, frozenset())
                found += [
                    f"imports {module}.{a.name}"
                    for a in node.names
                    if allowed is not None and a.name not in allowed
                ]
            elif module.endswith("ledger.models"):
                found += [
                    f"imports the table class {a.name}"
                    for a in node.names
                    if a.name in TABLE_CLASSES or a.name == "*"
                ]
            elif module.endswith(".ledger"):
                found += [f"imports {module}.models" for a in node.names if a.name == "models"]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in SQL_CALLS:
                found.append(f"calls {name}(")
    return found


def _scanned() -> dict[str, list[str]]:
    """Violations per scanned module (relative path), the allowed ones removed."""
    result: dict[str, list[str]] = {}
    for folder in SCANNED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            allowed = ALLOWED.get(rel, (frozenset(), ""))[0]
            result[rel] = [v for v in violations(path.read_text()) if v not in allowed]
    return result


def test_commands_and_handlers_hold_no_sql() -> None:
    scanned = _scanned()
    assert "jobs/cli/runs.py" in scanned and "jobs/service/api.py" in scanned
    offending = {path: found for path, found in scanned.items() if found}
    assert offending == {}, "SQL in commands or handlers (move it to ledger/queries): " + "; ".join(
        f"{path}: {', '.join(found)}" for path, found in offending.items()
    )


def test_every_allowance_is_still_needed() -> None:
    """An entry of ALLOWED that its module no longer needs goes (it would let SQL back in)."""
    for rel, (allowed, why) in ALLOWED.items():
        assert why
        found = set(violations((ROOT / rel).read_text()))
        assert allowed <= found, f"{rel}: no longer needs {sorted(allowed - found)}"


def test_the_scan_refuses_a_listing_written_in_a_command() -> None:
    """The CLI's old `runs` listing, as it was before the shared query module, is caught."""
    old_list_runs = """
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
import sqlalchemy as sa
from pmo_ledger.ledger.models import SyncRun, SyncRunStream, utcnow, UNMAPPED_CODE
from pmo_ledger.ledger import models


def list_runs(session: Session, connector: str | None) -> list[object]:
    sums = select(SyncRunStream.run_id, func.sum(SyncRunStream.rows_read)).subquery()
    query = select(SyncRun, sums).order_by(SyncRun.id.desc())
    run = session.get(models.SyncRun, 1)
    session.execute(sa.text("SELECT 1"))
    return list(session.execute(query))
"""
    assert sorted(violations(old_list_runs)) == [
        "calls select(",
        "calls select(",
        "calls text(",
        "imports pmo_ledger.ledger.models",
        "imports sqlalchemy",
        "imports sqlalchemy.func",
        "imports sqlalchemy.orm.aliased",
        "imports sqlalchemy.select",
        "imports the table class SyncRun",
        "imports the table class SyncRunStream",
    ]
    allowed = "from sqlalchemy.exc import SQLAlchemyError\nfrom sqlalchemy.orm import Session\n"
    assert (
        violations(allowed + "from pmo_ledger.ledger.models import utcnow, UNMAPPED_CODE\n") == []
    )
