"""The ledger the browser tests look at: `make demo`'s sample world (the PSA and the ERP, with
their planted problems) and the Workfront sandbox (its planted contractor), synced in full and
reconciled, plus one hostile name; then `pmo-ledger serve`'s service over it on 127.0.0.1.

config/demo.toml is the configuration, less the Salesforce and SAP sandboxes (and the erp~fin
pair that compares SAP): those two add nothing a page shows differently and most of the load's
time. The hostile name is planted in the sample data: the PSA's portfolio is named
`HOSTILE_PORTFOLIO` (its `portfolio` setting), and project PRJ-0002's name is replaced, as the
PSA would send it, by `HOSTILE`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.service.serve import Service
from pmo_ledger.ledger.models import Portfolio, Program, Project
from pmo_ledger.ledger.records import ProjectRecord
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write import apply_batch

ROOT = Path(__file__).resolve().parents[2]
DEMO_TOML = ROOT / "config" / "demo.toml"
#: The write token of the service (`[service] api_token`).
TOKEN = "browser-t0ken-0123456789"
#: What a source may send as a name: it must show as text, and run nothing.
HOSTILE = "<script>alert(1)</script>"
HOSTILE_PORTFOLIO = '<img src=x onerror="alert(2)"> Portfolio'
#: The project whose name the PSA replaces by HOSTILE.
HOSTILE_PROJECT = "PRJ-0002"
#: A connector the service has and the load did not run: the trigger test starts it from the
#: operations page and watches its run. The same sample world (its lines count for nothing:
#: the PSA and the ERP are the authorities), slow enough to be seen running.
SLOW = """
[connectors.slow]
kind = "sample"
seed = 42
projects = 6
actuals = 60
page_size = 20
page_delay = 0.1

[[ledger.link_rules]]
source = "slow"
object_type = "project"
pattern = '^(?P<code>PRJ-\\d{4})$'
project = "{code}"
"""


def _sub(pattern: str, replacement: str, text: str) -> str:
    text, n = re.subn(pattern, replacement, text, flags=re.M | re.S)
    assert n == 1, pattern
    return text


def config_text(url: str, workfront_url: str, workfront_ca: str) -> str:
    """config/demo.toml on `url`, without the Salesforce and SAP sandboxes, Workfront's at
    `workfront_url`, the PSA's portfolio hostile, and a write token."""
    text = DEMO_TOML.read_text(encoding="utf-8")
    text = _sub(r'^url = ".*?"$', f'url = "{url}"', text)
    text = _sub(r"^# The Salesforce sandbox.*?(?=^\[logging\])", "", text)
    text = _sub(r"^# The SAP sandbox.*\Z", "", text)
    text = _sub(r'^  \{ left = "erp", right = "fin", .*?^  \] \},\n', "", text)
    text = _sub(r'(^\[connectors\.pm\]\n(?:(?!^\[).)*?^)base_url = "[^"]*"',
                rf'\g<1>base_url = "{workfront_url}"', text)  # fmt: skip
    text = _sub(r'^ca_bundle = ".sandbox/workfront/ca.pem"', f'ca_bundle = "{workfront_ca}"', text)
    text = _sub(r"^(\[connectors\.psa\]\n)", rf"\g<1>portfolio = '{HOSTILE_PORTFOLIO}'\n", text)
    return text + f'\n[service]\napi_token = "{TOKEN}"\n'


def rename_hostile(engine: Engine, app: App) -> None:
    """The PSA sends PRJ-0002 again under the hostile name (through the writer, as a sync)."""
    with Session(engine) as s:
        project = s.scalars(select(Project).where(Project.code == HOSTILE_PROJECT)).one()
        portfolio = s.get(Portfolio, project.portfolio_id) if project.portfolio_id else None
        program = s.get(Program, project.program_id) if project.program_id else None
        record = ProjectRecord(
            external_id=HOSTILE_PROJECT,
            code=HOSTILE_PROJECT,
            name=HOSTILE,
            portfolio=portfolio.code if portfolio is not None else None,
            portfolio_name=portfolio.name if portfolio is not None else None,
            program=program.code if program is not None else None,
            program_name=program.name if program is not None else None,
            status=project.status,
            condition=project.condition,
            currency=project.currency,
            manager=project.manager,
            planned_start=project.planned_start,
            planned_finish=project.planned_finish,
            actual_start=project.actual_start,
            actual_finish=project.actual_finish,
            percent_complete=project.percent_complete,
        )
        settings: LedgerSettings = app.config.ledger
        apply_batch(s, settings, "psa", "projects", [record])
        s.commit()
        assert s.scalar(select(Project.name).where(Project.code == HOSTILE_PROJECT)) == HOSTILE


def make_app(config: Path) -> App:
    data = tomllib.loads(config.read_text(encoding="utf-8"), parse_float=Decimal)
    return App(parse_config(data, {}, config.parent), config)


@dataclass
class Dashboard:
    """A served ledger: `url` is the service's root; `engine` reads the same database."""

    name: str  # the engine's: sqlite, postgresql
    url: str
    engine: Engine
    app: App
    service: Service
    config: Path
