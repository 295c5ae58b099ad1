"""The dashboard's screenshots in docs/img/dashboard-*.png, taken from `make demo`'s ledger.

Runs as `make demo` does, in a temporary directory: the Salesforce, Workfront and SAP
sandboxes on free ports of 127.0.0.1 beside the two sample sources, config/demo.toml pointed at
them (and given a write token), `db upgrade` and `sync --all` (which reconciles); then
`pmo-ledger serve`'s service on a free port, and Debian's chromium through Playwright (the
`test` extra; `make chromium` installs the browser) signs in and saves each page.

    .venv/bin/python scripts/screenshots.py [--out docs/img] [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import re
import secrets
import subprocess
import sys
import tempfile
import tomllib
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import SandboxOptions
from pmo_ledger.connectors.registry import installed_kinds
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.service.serve import Service
from pmo_ledger.ledger.models import Variance

ROOT = Path(__file__).resolve().parents[1]
#: The service's write token for this run only.
TOKEN = secrets.token_urlsafe(24)
#: (config table, key of the sandbox's URL, kind, the CA path config/demo.toml names)
SANDBOXES = (
    ("crm", "login_url", "salesforce", ".sandbox/ca.pem"),
    ("pm", "base_url", "workfront", ".sandbox/workfront/ca.pem"),
    ("fin", "base_url", "sap", ".sandbox/sap/ca.pem"),
)
#: The slipping project of the demo ([connectors.psa.planted]).
PROJECT = "PRJ-0005"


def demo_config(tmp: Path, urls: dict[str, tuple[str, str]]) -> Path:
    """config/demo.toml on an SQLite file in `tmp`, its sandboxes at `urls`, with a token."""
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^url = ".*"$', f'url = "sqlite:///{tmp / "ledger.db"}"', text)
    for table, key, _kind, old_ca in SANDBOXES:
        url, ca = urls[table]
        text, n = re.subn(
            rf'(?ms)(^\[connectors\.{table}\]\n(?:(?!^\[).)*?^){key} = "[^"]*"',
            rf'\g<1>{key} = "{url}"',
            text,
        )
        assert n == 1, table
        text = text.replace(f'ca_bundle = "{old_ca}"', f'ca_bundle = "{ca}"')
    path = tmp / "demo.toml"
    path.write_text(text + f'\n[service]\napi_token = "{TOKEN}"\n', encoding="utf-8")
    return path


def cli(config: Path, *args: str) -> None:
    command = [sys.executable, "-m", "pmo_ledger.jobs.cli", "--config", str(config), *args]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)  # noqa: S603


def shoot(page: Page, out: Path, name: str, **kw: object) -> None:
    path = out / f"dashboard-{name}.png"
    page.screenshot(path=str(path), **kw)  # type: ignore[arg-type]
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def pages(base: str, out: Path, chromium: str, variance: int) -> None:
    """Sign in, then save each page (the signed-in header shows)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium)
        context = browser.new_context(
            base_url=base, viewport={"width": 1280, "height": 800}, device_scale_factor=1
        )
        page = context.new_page()
        page.goto("/ui/signin")
        shoot(page, out, "signin", clip={"x": 0, "y": 0, "width": 1280, "height": 420})
        page.get_by_label("API token").fill(TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/ui")
        shoot(page, out, "portfolio", full_page=True)
        page.goto(f"/ui/projects/{PROJECT}")
        shoot(page, out, "project", full_page=True,
              clip={"x": 0, "y": 0, "width": 1280, "height": 1130})  # fmt: skip
        schedule = out / "dashboard-schedule.png"
        page.locator("section[aria-labelledby=gantt-h]").screenshot(path=str(schedule))
        print(f"wrote {schedule}")
        page.goto("/ui/variances")
        shoot(page, out, "variances", full_page=True,
              clip={"x": 0, "y": 0, "width": 1280, "height": 1000})  # fmt: skip
        page.goto(f"/ui/variances/{variance}")
        shoot(page, out, "variance", clip={"x": 0, "y": 0, "width": 1280, "height": 800})
        page.goto("/ui/operations")
        shoot(page, out, "operations", clip={"x": 0, "y": 0, "width": 1280, "height": 800})
        page.locator("#connectors tr[data-connector=psa]").get_by_role("button").click()
        page.wait_for_url("**/ui/runs/*")
        page.locator("#run-status").filter(has_text="succeeded").wait_for(timeout=120_000)
        shoot(page, out, "run", clip={"x": 0, "y": 0, "width": 1280, "height": 640})
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    kinds = installed_kinds()
    with tempfile.TemporaryDirectory(prefix="pmo-ledger-shots-") as name, ExitStack() as stack:
        tmp = Path(name)
        urls: dict[str, tuple[str, str]] = {}
        for table, key, kind, _ca in SANDBOXES:
            options = SandboxOptions(page_size=500, cert_dir=tmp / table, live=True)
            box = stack.enter_context(kinds[kind].sandbox(options))
            urls[table] = (str(box.settings[key]), str(box.settings["ca_bundle"]))
        config = demo_config(tmp, urls)
        cli(config, "db", "upgrade")
        cli(config, "sync", "--all")
        data = tomllib.loads(config.read_text(encoding="utf-8"), parse_float=Decimal)
        app = App(parse_config(data, {}, tmp), config)
        service = Service(app, "127.0.0.1", 0)
        service.start()
        try:
            with Session(app.engine) as s:
                variance = s.scalars(
                    select(Variance.id).where(
                        Variance.rule == "forecast_overrun", Variance.subject_id == PROJECT
                    )
                ).one()
            pages(f"http://127.0.0.1:{service.port}", args.out, args.chromium, variance)
        finally:
            service.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
