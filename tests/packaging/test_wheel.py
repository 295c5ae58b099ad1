"""The wheel claims the name `pmo_ledger` only, holds every module of the five folders, and
works from outside the repository: `pmo-ledger db upgrade` builds a ledger from its own copy.

The wheel is built with the `build` front end from a copy of the repository's tracked files
(so the build leaves nothing in the working tree), installed without dependencies into a fresh
virtual environment, and given this environment's dependencies through a `.pth` line, which
adds their folder to `sys.path` without running this environment's editable-install hook: the
only `pmo_ledger` the fresh environment can import is the wheel's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("config", "connectors", "jobs", "ledger", "migrations")


def _tracked_files() -> list[str]:
    git = shutil.which("git")
    assert git is not None, "the wheel test lists the tracked files with git"
    out = subprocess.run(
        [git, "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [name for name in out.split("\0") if name and (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("tree")
    for name in _tracked_files():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=tree, check=True, capture_output=True, text=True,
    )
    (built,) = out.glob("pmo_ledger-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed, and its site-packages listing
    before the install saved beside it."""
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True).create(home)
    python = home / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )
    (home / "before.txt").write_text("\n".join(sorted(os.listdir(site))))
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
        check=True, capture_output=True, text=True,
    )
    (site / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return home


def test_the_wheel_adds_pmo_ledger_and_no_other_top_level_name(fresh: Path) -> None:
    python = fresh / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )
    before = set((fresh / "before.txt").read_text().split("\n"))
    added = set(os.listdir(site)) - before - {"zz_dependencies.pth", "__pycache__"}
    assert added == {"pmo_ledger", "pmo_ledger-0.1.0.dist-info"}
    assert sorted(os.listdir(site / "pmo_ledger")) == sorted(FOLDERS)


def test_the_wheel_holds_every_module_and_data_file_of_the_five_folders(wheel: Path) -> None:
    """Every tracked file of the folders that a running service reads is in the wheel under
    `pmo_ledger/`; the package list in pyproject.toml names every folder with an `__init__.py`."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    data = (".py", ".toml", ".json", ".mako", ".csv", ".ini")
    expected = {
        f"pmo_ledger/{name}"
        for name in _tracked_files()
        if name.split("/", 1)[0] in FOLDERS and name.endswith(data)
    }
    assert expected - names == set()
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]
    folders = {
        "pmo_ledger." + str(init.parent.relative_to(ROOT)).replace("/", ".")
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
        if ".venv" not in init.parts
    }
    assert set(packages) == folders


def test_the_wheel_holds_the_dashboards_templates_and_static_files(wheel: Path) -> None:
    """The dashboard (jobs/service/ui) reads its templates and static files from the installed
    package: each tracked one is in the wheel, htmx with its licence among them."""
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    ui = [
        name
        for name in _tracked_files()
        if name.startswith(("jobs/service/ui/templates/", "jobs/service/ui/static/"))
    ]
    for needed in (
        "static/htmx.min.js",
        "static/htmx.LICENSE",
        "static/app.css",
        "templates/base.html",
        "templates/portfolio.html",
    ):
        assert f"jobs/service/ui/{needed}" in ui
    assert {f"pmo_ledger/{name}" for name in ui} - names == set()


def test_db_upgrade_works_from_outside_the_repository(fresh: Path, tmp_path: Path) -> None:
    config = tmp_path / "pmo-ledger.toml"
    config.write_text(
        f'[ledger]\nurl = "sqlite:///{tmp_path / "ledger.db"}"\nbase_currency = "EUR"\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PMO_LEDGER_CONFIG"}}
    done = subprocess.run(
        [str(fresh / "bin" / "pmo-ledger"), "--config", str(config), "db", "upgrade"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    versions = (ROOT / "migrations" / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    head = max(p.name[:4] for p in versions)  # the newest revision, whatever its number
    assert done.stdout.strip() == f"upgraded sqlite:///{tmp_path / 'ledger.db'} to {head} (head)"
    where = subprocess.run(
        [str(fresh / "bin" / "python"), "-c",
         "import pmo_ledger.ledger, pmo_ledger.migrations; "
         "print(pmo_ledger.ledger.__file__); print(pmo_ledger.migrations.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )
    for line in where.stdout.split():
        assert Path(line).is_relative_to(fresh), line
