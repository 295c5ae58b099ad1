"""The dependencies in pyproject.toml say what the code uses, at lower bounds that are tested.

- Every third-party name the shipped folders import is provided by a distribution declared in
  `[project] dependencies`, and every declared runtime dependency is imported by some module
  (or named in `NOT_IMPORTED` with the reason it is still needed).
- What tests/ and bench/ import is declared at runtime or in the `test` extra; every `test`
  dependency is imported by a test or named in `TEST_NOT_IMPORTED`.
- Each runtime and `test` dependency has a `>=` lower bound, and constraints/lowest.txt pins
  exactly those versions, nothing else: `make test-lowest` runs the suite with them.

Imports are read from the source with `ast` (module level or inside functions, including
`TYPE_CHECKING` blocks), and mapped to distributions through the installed environment's
metadata (`importlib.metadata.packages_distributions`).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("config", "connectors", "jobs", "ledger", "migrations")
FIRST_PARTY = frozenset({"pmo_ledger", "tests", "bench"})
LOWEST = ROOT / "constraints" / "lowest.txt"

#: Declared runtime dependencies that no module imports by name, each with why it is still
#: needed: a database driver SQLAlchemy loads from a URL, a server started by name. None today
#: (psycopg and uvicorn are imported; the Oracle connector will declare its driver with it).
NOT_IMPORTED: dict[str, str] = {}

#: `test` dependencies that no test imports, each with how the suite uses it.
TEST_NOT_IMPORTED = {
    "pytest-xdist": "a pytest plugin: `make test` runs `pytest -n 2`",
    "build": "tests/packaging builds the wheel with `python -m build --no-isolation`",
    "setuptools": "the build backend that `--no-isolation` build runs in this environment",
    "wheel": "the same build, for setuptools' wheel command",
}


def _requirements(group: str) -> list[Requirement]:
    """The requirements of `[project] dependencies` ("runtime") or of an extra ("test")."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (
        project["dependencies"] if group == "runtime" else project["optional-dependencies"][group]
    )
    return [Requirement(line) for line in lines]


def _declared(group: str) -> set[str]:
    return {canonicalize_name(req.name) for req in _requirements(group)}


def imported_names(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one module, without the standard library's
    and our own (first-party packages and modules beside the file, as bench's scripts use)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {
        name
        for name in names
        if name not in sys.stdlib_module_names
        and name not in FIRST_PARTY
        and name != "__future__"
        and not (path.parent / f"{name}.py").is_file()
    }


def _sources(folders: Iterable[str]) -> list[Path]:
    return [path for folder in folders for path in sorted((ROOT / folder).rglob("*.py"))]


def distributions_imported(folders: Iterable[str]) -> dict[str, set[str]]:
    """Each distribution the modules under `folders` import -> the modules that import it; an
    import no installed distribution provides maps from `?name`."""
    providers = packages_distributions()
    used: dict[str, set[str]] = {}
    for path in _sources(folders):
        where = str(path.relative_to(ROOT))
        for name in imported_names(path):
            for dist in providers.get(name, [f"?{name}"]):
                used.setdefault(canonicalize_name(dist), set()).add(where)
    return used


def test_the_shipped_code_imports_only_declared_runtime_dependencies() -> None:
    used = distributions_imported(SHIPPED)
    undeclared = {
        dist: sorted(where) for dist, where in used.items() if dist not in _declared("runtime")
    }
    assert undeclared == {}, (
        "declare these in [project] dependencies (imported by the modules listed)"
    )


def test_every_runtime_dependency_is_imported_or_says_why_it_is_there() -> None:
    unused = _declared("runtime") - set(distributions_imported(SHIPPED)) - set(NOT_IMPORTED)
    assert unused == set(), "no shipped module imports these: drop them or say why in NOT_IMPORTED"
    assert set(NOT_IMPORTED) <= _declared("runtime")


def test_tests_and_benchmarks_import_only_declared_dependencies() -> None:
    used = distributions_imported(["tests", "bench"])
    allowed = _declared("runtime") | _declared("test")
    # bench/ may also import the `bench` extra (peers to time against), which the suite does
    # not install: an import no installed distribution provides then maps from `?name`.
    bench_only = _declared("bench") | {f"?{name}" for name in _declared("bench")}
    undeclared = {
        dist: sorted(where)
        for dist, where in used.items()
        if dist not in allowed
        and not (dist in bench_only and all(w.startswith("bench/") for w in where))
    }
    assert undeclared == {}, "declare these in the `test` extra (imported by the modules listed)"


def test_every_test_dependency_is_imported_or_says_why_it_is_there() -> None:
    unused = _declared("test") - set(distributions_imported(["tests"])) - set(TEST_NOT_IMPORTED)
    assert unused == set()
    assert set(TEST_NOT_IMPORTED) <= _declared("test")


def _lower_bound(req: Requirement) -> str | None:
    bounds = [spec.version for spec in req.specifier if spec.operator == ">="]
    return bounds[0] if len(bounds) == 1 else None


def test_each_dependency_has_the_lower_bound_that_constraints_lowest_pins() -> None:
    declared = {
        canonicalize_name(req.name): _lower_bound(req)
        for group in ("runtime", "test", "bench")
        for req in _requirements(group)
    }
    assert [name for name, bound in declared.items() if bound is None] == []
    pinned: dict[str, str] = {}
    for line in LOWEST.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pinned[canonicalize_name(name)] = version.strip()
    assert pinned == declared
