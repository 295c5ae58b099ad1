"""Fixtures of the browser tests: Debian's chromium driven by Playwright, and the dashboard of
`pmo-ledger serve` over a ledger loaded from the sample and sandbox sources (tests.browser.ledger)
on SQLite and on PostgreSQL, built once per engine and session.

Chromium is the system's (`make test` installs it with apt-get: `make chromium`); Playwright's
own browser download is never used. With CI=true a browser test fails when chromium is missing
or does not start, as a PostgreSQL test fails when the server is unreachable; elsewhere both
are skipped, saying why.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    Request,
    Response,
    sync_playwright,
)
from sqlalchemy import text

from pmo_ledger.connectors.base import SandboxOptions
from pmo_ledger.connectors.registry import installed_kinds
from pmo_ledger.jobs.service.serve import Service
from pmo_ledger.ledger.db import make_engine
from tests.browser.ledger import ROOT, SLOW, Dashboard, config_text, make_app, rename_hostile
from tests.conftest import PG_URL
from tests.jobs.test_cli import invoke, ok

#: The system's chromium (Debian's package); PMO_TEST_CHROMIUM names another.
CHROMIUM = os.environ.get("PMO_TEST_CHROMIUM", "/usr/bin/chromium")
#: When this run began: the screenshots it wrote are newer.
STARTED = time.time()
#: Where the screenshots go (git-ignored).
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Where this run's screenshots are (the controller's summary; xdist workers write them)."""
    shots = [p for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= STARTED]
    if shots:
        terminalreporter.write_line(f"browser screenshots: {len(shots)} in {SCREENSHOTS}")


def _unavailable(message: str) -> None:
    """Fail under CI=true, skip elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless chromium of the system, one per session (each test opens its own context)."""
    path = shutil.which(CHROMIUM) or (CHROMIUM if os.access(CHROMIUM, os.X_OK) else None)
    if path is None:
        _unavailable(f"chromium not found at {CHROMIUM}: `make chromium` installs it (apt-get)")
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=path)
        except Exception as exc:  # noqa: BLE001 - reported as fail (CI) or skip
            _unavailable(f"chromium at {path} did not start: {' '.join(str(exc).split())[:500]}")
        yield launched
        launched.close()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _postgres_database(stack: ExitStack) -> str:
    """A database of this worker's own (the `engine` fixture empties the shared one between
    tests): its URL; dropped when the stack closes."""
    admin = make_engine(PG_URL, isolation_level="AUTOCOMMIT")
    stack.callback(admin.dispose)
    name = f"pmo_ledger_browser_{_worker()}_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - reported as fail (CI) or skip
        _unavailable(f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}: {exc}")

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    stack.callback(drop)
    return PG_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(
    scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def dashboard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """The served dashboard over the loaded, reconciled ledger on each engine."""
    name = str(request.param)
    tmp = tmp_path_factory.mktemp(f"dashboard-{name}")
    with ExitStack() as stack:
        if name == "sqlite":
            url = f"sqlite:///{tmp / 'ledger.db'}"
        else:
            url = _postgres_database(stack)
        options = SandboxOptions(page_size=500, cert_dir=tmp / "workfront", live=True)
        workfront = stack.enter_context(installed_kinds()["workfront"].sandbox(options))
        config = tmp / "pmo-ledger.toml"
        config.write_text(
            config_text(
                url, str(workfront.settings["base_url"]), str(workfront.settings["ca_bundle"])
            ),
            encoding="utf-8",
        )
        ok(invoke(config, "db", "upgrade"))
        synced = ok(invoke(config, "sync", "--all"))
        assert "all: psa succeeded, erp succeeded, pm succeeded" in synced, synced
        # The service has the slow connector too, which the load never ran.
        config.write_text(config.read_text(encoding="utf-8") + SLOW, encoding="utf-8")
        app = make_app(config)
        stack.callback(app.close)
        rename_hostile(app.engine, app)
        service = Service(app, "127.0.0.1", 0)
        service.start()
        stack.callback(service.stop)
        yield Dashboard(name, f"http://127.0.0.1:{service.port}", app.engine, app, service, config)


@contextmanager
def locked_service(dashboard: Dashboard) -> Iterator[str]:
    """A second service on the same ledger whose reads need the token too
    (`read_requires_token = true`): its root URL."""
    text = dashboard.config.read_text(encoding="utf-8")
    text, n = re.subn(r"(?m)^(api_token = .*\n)", r"\1read_requires_token = true\n", text)
    assert n == 1
    config = dashboard.config.with_name("locked.toml")
    config.write_text(text, encoding="utf-8")
    app = make_app(config)
    service = Service(app, "127.0.0.1", 0)
    service.start()
    try:
        yield f"http://127.0.0.1:{service.port}"
    finally:
        service.stop()


@dataclass
class Watch:
    """What a page did that a person would not want: console errors, uncaught exceptions,
    failed requests and error responses, dialogs (alert, confirm...)."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    error_responses: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.console_errors.append(f"{message.type}: {message.text} ({message.location})")

    def _failed(self, request: Request) -> None:
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.error_responses.append(f"{response.status} {response.request.method} {response.url}")

    def _dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def problems(self) -> dict[str, list[str]]:
        found = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: seen for name, seen in found.items() if seen}


@pytest.fixture
def watch() -> Watch:
    return Watch()


def new_page(context: BrowserContext, watch: Watch) -> Page:
    page = context.new_page()
    watch.attach(page)
    return page


@pytest.fixture
def context(browser: Browser, dashboard: Dashboard) -> Iterator[BrowserContext]:
    """A fresh browser context (no cookies) on the dashboard's origin."""
    ctx = browser.new_context(base_url=dashboard.url, viewport={"width": 1366, "height": 900})
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext, watch: Watch) -> Page:
    return new_page(context, watch)


def screenshot(page: Page, dashboard: Dashboard, name: str, **kw: Any) -> Path:
    """Save the whole page as .artifacts/screenshots/<engine>-<name>.png; print the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{dashboard.name}-{name}.png"
    page.screenshot(path=str(path), **{"full_page": True, **kw})
    print(f"screenshot: {path}")
    return path
