"""The import graph keeps its shape: connectors load no database code, and the write path has
one front door (`pmo_ledger.ledger.write`).

- importing the connector contract or the record types leaves SQLAlchemy unloaded (a
  connector, its tests and `pmo-ledger sandbox` need no database driver);
- jobs/ imports only the names `pmo_ledger.ledger.write` exports, never one of its modules;
- connectors/ never imports the write path at all: they produce records, the runner writes.

The scan reads the source (AST), so it sees imports inside functions too.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import pmo_ledger.ledger.write as write

ROOT = Path(__file__).resolve().parents[2]
WRITE = "pmo_ledger.ledger.write"


def _imports(source: str) -> list[tuple[int, str, str | None]]:
    """(line, module, name) of every absolute import in `source`; name None for `import m`."""
    out: list[tuple[int, str, str | None]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out += [(node.lineno, node.module, alias.name) for alias in node.names]
    return out


def write_path_violations(source: str, *, connector: bool) -> list[str]:
    """What in `source` goes past the write path's front door: a submodule of it, a name it
    does not export, or (`connector`) any import of it."""
    found = []
    for line, module, name in _imports(source):
        target = f"{module}.{name}" if name else module
        if module == "pmo_ledger.ledger" and name == "write":
            target = WRITE
        touches = target == WRITE or target.startswith(WRITE + ".")
        if not touches:
            continue
        if connector:
            found.append(f"line {line}: a connector imports the write path ({target})")
        elif module.startswith(WRITE + "."):
            found.append(f"line {line}: imports {module}, a module inside {WRITE}")
        elif module == WRITE and name not in write.__all__:
            found.append(f"line {line}: imports {name} from {WRITE}, which does not export it")
    return found


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_connector_contract_and_records_load_no_sqlalchemy() -> None:
    """A fresh interpreter imports the contract and the records without SQLAlchemy."""
    for module in ("pmo_ledger.connectors.base", "pmo_ledger.ledger.records"):
        code = f"import sys, {module}; print('sqlalchemy' in sys.modules)"
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        assert out.strip() == "False", f"importing {module} loads sqlalchemy"


@pytest.mark.parametrize("folder", ["jobs", "connectors"])
def test_only_the_front_door_of_the_write_path_is_imported(folder: str) -> None:
    """jobs/ imports exported names of ledger.write only; connectors/ none of it."""
    problems = [
        f"{path.relative_to(ROOT)} {problem}"
        for path in _sources(folder)
        for problem in write_path_violations(path.read_text(), connector=folder == "connectors")
    ]
    assert problems == []


def test_the_runner_uses_the_front_door() -> None:
    """jobs/sync.py takes apply_batch, end_scope and store_checkpoint from ledger.write, and
    every name it takes from there is exported."""
    taken = {
        name
        for _line, module, name in _imports((ROOT / "jobs" / "sync.py").read_text())
        if module == WRITE
    }
    assert {"apply_batch", "end_scope", "store_checkpoint"} <= taken
    assert taken <= set(write.__all__)


def test_the_front_door_exports_what_a_batch_needs() -> None:
    for name in ("apply_batch", "end_scope", "store_checkpoint", "BatchResult"):
        assert name in write.__all__
        assert getattr(write, name).__module__.startswith(WRITE + ".")


@pytest.mark.parametrize(
    ("source", "connector", "expected"),
    [
        ("from pmo_ledger.ledger.write.batch import apply_batch", False, "a module inside"),
        ("import pmo_ledger.ledger.write.scopes", False, "a module inside"),
        ("from pmo_ledger.ledger.write import batch", False, "does not export"),
        ("def f():\n    from pmo_ledger.ledger.write import LineWriter", False, "does not export"),
        ("from pmo_ledger.ledger.write import apply_batch", True, "a connector imports"),
        ("from pmo_ledger.ledger import write", True, "a connector imports"),
        ("from pmo_ledger.ledger.records import DELETION_KINDS", True, None),
        ("from pmo_ledger.ledger.write import apply_batch, end_scope", False, None),
        ("from pmo_ledger.ledger.writers import x", False, None),
    ],
)
def test_the_scan_sees_each_kind_of_violation(
    source: str, connector: bool, expected: str | None
) -> None:
    """The guard itself: each way past the front door is reported, the front door is not."""
    found = write_path_violations(source, connector=connector)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0]
