"""jobs.config: lookup, defaults, validation messages, secrets, Decimal thresholds, exit code."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import BaseModel, SecretStr

from pmo_ledger.connectors.salesforce.settings import SalesforceSettings
from pmo_ledger.jobs.config import (
    AppConfig,
    ConfigError,
    format_config_error,
    load_config,
    load_or_exit,
    resolve_config_path,
)
from pmo_ledger.jobs.logconfig import configure_logging, reset_logging

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "pmo-ledger.example.toml"
TWO_CONNECTORS = """
[connectors.psa]
kind = "salesforce"
[connectors.demo]
kind = "sample"
"""
FULL_AUTHORITY = """
[ledger.authority]
projects = "psa"
labor = "psa"
expense = "psa"
hours = "psa"
revenue = "psa"
budget = "demo"
"""


def write(tmp_path: Path, text: str, name: str = "pmo-ledger.toml") -> Path:
    """Write a configuration file into tmp_path and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> AppConfig:
    """Load a configuration given as TOML text."""
    return load_config(write(tmp_path, text), environ or {})


def problems(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> list[str]:
    """The problem lines a configuration given as TOML text is refused with."""
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, environ)
    return info.value.problems


# --- lookup and defaults -----------------------------------------------------------------------


def test_explicit_path_wins_over_environment_and_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--config PATH is used even when $PMO_LEDGER_CONFIG and ./pmo-ledger.toml exist."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "")
    explicit = Path("/etc/explicit.toml")
    environ = {"PMO_LEDGER_CONFIG": "/etc/from-env.toml"}
    assert resolve_config_path(explicit, environ) == explicit


def test_environment_variable_wins_over_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """$PMO_LEDGER_CONFIG is used when no --config is given, even if ./pmo-ledger.toml exists."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "")
    environ = {"PMO_LEDGER_CONFIG": "/etc/from-env.toml"}
    assert resolve_config_path(None, environ) == Path("/etc/from-env.toml")


def test_working_directory_file_is_the_last_resort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """./pmo-ledger.toml is used when neither --config nor $PMO_LEDGER_CONFIG is set."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "")
    assert resolve_config_path(None, {"PMO_LEDGER_CONFIG": ""}) == Path("pmo-ledger.toml")


def test_no_file_anywhere_resolves_to_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --config, $PMO_LEDGER_CONFIG or ./pmo-ledger.toml there is no file."""
    monkeypatch.chdir(tmp_path)
    assert resolve_config_path(None, {}) is None


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no file, the ledger is an SQLite file, no connector, API on loopback:8080."""
    monkeypatch.chdir(tmp_path)
    config = load_config(None, {})
    assert config.ledger.url == "sqlite:///pmo-ledger.db"
    assert config.connectors == {}
    assert (config.service.host, config.service.port) == ("127.0.0.1", 8080)
    assert config.service.stop_timeout == timedelta(seconds=8)
    assert config.reconcile.after_sync is True


def test_connector_defaults(tmp_path: Path) -> None:
    """A connector gets lookback 15m, timeouts 10s/120s, enabled and no schedule by default."""
    connector = load(tmp_path, '[connectors.demo]\nkind = "sample"\n').connectors["demo"]
    assert connector.lookback == timedelta(minutes=15)
    assert connector.connect_timeout == timedelta(seconds=10)
    assert connector.read_timeout == timedelta(seconds=120)
    assert (connector.enabled, connector.schedule, connector.settings) == (True, None, {})


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    """A --config path that does not exist is refused, not replaced by defaults."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing, {})
    assert info.value.problems == [f"{missing}: file not found"]


def test_example_configuration_loads(tmp_path: Path) -> None:
    """config/pmo-ledger.example.toml loads once its variables and key file exist."""
    key = tmp_path / "sf.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n\n")
    text = EXAMPLE.read_text(encoding="utf-8").replace("/run/secrets/sf.key", str(key))
    environ = {
        "SF_CONSUMER_KEY": "3MVG9example",
        "PMO_LEDGER_API_TOKEN": "t0ken-t0ken",
        "PMO_LEDGER_WEBHOOK_URL": "https://hooks.example.com/T1/B2",
    }
    config = load(tmp_path, text, environ)
    assert sorted(config.connectors) == ["demo", "psa"]
    assert config.connectors["psa"].settings["private_key"].get_secret_value() == (
        "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----"
    )
    assert config.authority_for("budget", portfolio="DEMO") == "demo"
    psa = SalesforceSettings.model_validate(config.connectors["psa"].settings)
    assert (psa.inferred_auth(), psa.consumer_key) == ("jwt", "3MVG9example")


def _field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(name)
        for arg in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                names |= _field_names(arg)
    return names - {"settings"}


def test_example_documents_every_key() -> None:
    """Every configuration key appears in the example file, set or commented out."""
    text = EXAMPLE.read_text(encoding="utf-8")
    undocumented = sorted(
        name
        for name in _field_names(AppConfig)
        if not re.search(rf"(^[#\s]*|[{{,]\s*){name}\s*=|[\[.]{name}[\].]", text, re.MULTILINE)
    )
    assert undocumented == []


# --- validation messages -----------------------------------------------------------------------


def test_bad_duration_message(tmp_path: Path) -> None:
    """A duration without a unit names the key and the expected form."""
    text = '[connectors.sf]\nkind = "salesforce"\nlookback = "15"\n'
    assert problems(tmp_path, text) == ['connectors.sf.lookback: expected a duration like "15m"']


def test_bad_currency_message(tmp_path: Path) -> None:
    """A base currency that is not ISO 4217 is refused with the value given."""
    assert problems(tmp_path, '[ledger]\nbase_currency = "EURO"\n') == [
        "ledger.base_currency: expected a 3-letter ISO 4217 currency code like \"EUR\", got 'EURO'"
    ]


def test_unknown_key_message(tmp_path: Path) -> None:
    """A key the ledger does not know is refused, with its path."""
    assert problems(tmp_path, "[ledger]\nunknown_key = 1\n") == ["ledger.unknown_key: unknown key"]


def test_missing_environment_variable_message(tmp_path: Path) -> None:
    """A ${VAR} reference to an unset variable names the key and the variable."""
    text = '[connectors.sf]\nkind = "salesforce"\npassword = "${SF_PASSWORD}"\n'
    assert problems(tmp_path, text) == [
        "connectors.sf.password: environment variable SF_PASSWORD is not set"
    ]


def test_missing_authority_with_two_connectors_message(tmp_path: Path) -> None:
    """Several connectors and no [ledger.authority] is one problem listing the keys to set."""
    assert problems(tmp_path, TWO_CONNECTORS) == [
        "ledger.authority: required when several connectors are configured: "
        "set projects, labor, expense, hours, revenue, budget"
    ]


def test_partial_authority_with_two_connectors_names_each_missing_measure(tmp_path: Path) -> None:
    """With several connectors, each measure left unset is one problem."""
    text = TWO_CONNECTORS + FULL_AUTHORITY.replace('hours = "psa"\n', "").replace(
        'budget = "demo"\n', ""
    )
    assert problems(tmp_path, text) == [
        "ledger.authority.hours: required when several connectors are configured",
        "ledger.authority.budget: required when several connectors are configured",
    ]


def test_authority_naming_unknown_connector_message(tmp_path: Path) -> None:
    """An authority naming a connector that is not configured is refused."""
    text = TWO_CONNECTORS + FULL_AUTHORITY.replace('labor = "psa"', 'labor = "sap"')
    assert problems(tmp_path, text) == [
        "ledger.authority.labor: unknown connector 'sap' (configured: 'psa', 'demo')"
    ]


def test_override_naming_unknown_connector_message(tmp_path: Path) -> None:
    """An authority override naming an unknown connector is refused at its list index."""
    text = TWO_CONNECTORS + FULL_AUTHORITY + 'overrides = [{portfolio = "EMEA", labor = "sap"}]\n'
    assert problems(tmp_path, text) == [
        "ledger.authority.overrides[0].labor: unknown connector 'sap' (configured: 'psa', 'demo')"
    ]


def test_bad_cron_message(tmp_path: Path) -> None:
    """A 5-field schedule that is not a valid cron expression says why."""
    text = '[connectors.sf]\nkind = "salesforce"\nschedule = "61 * * * *"\n'
    assert problems(tmp_path, text) == [
        "connectors.sf.schedule: invalid cron expression '61 * * * *': Error validating "
        "expression '61': the last value (61) is higher than the maximum value (59)"
    ]


def test_schedule_neither_interval_nor_cron_message(tmp_path: Path) -> None:
    """A schedule that is neither form names both."""
    text = '[connectors.sf]\nkind = "salesforce"\nschedule = "hourly"\n'
    assert problems(tmp_path, text) == [
        'connectors.sf.schedule: expected an interval like "15m" or a 5-field cron expression '
        "like \"0 2 * * *\", got 'hourly'"
    ]


def test_interval_and_cron_schedules_are_accepted(tmp_path: Path) -> None:
    """Both "15m" and "*/15 * * * *" are valid schedules."""
    text = (
        (
            '[connectors.a]\nkind = "sample"\nschedule = "15m"\n'
            '[connectors.b]\nkind = "sample"\nschedule = "*/15 * * * *"\n' + FULL_AUTHORITY
        )
        .replace('"psa"', '"a"')
        .replace('"demo"', '"b"')
    )
    config = load(tmp_path, text)
    assert [c.schedule for c in config.connectors.values()] == ["15m", "*/15 * * * *"]


def test_toml_syntax_error_message(tmp_path: Path) -> None:
    """A TOML syntax error names the file and the line."""
    path = write(tmp_path, '[ledger]\nurl = "sqlite:///x.db"\nbase_currency = \n')
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert info.value.problems == [f"{path}: line 3: invalid value (column 17)"]


def test_toml_error_uses_the_path_as_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ./pmo-ledger.toml found by lookup is reported as pmo-ledger.toml."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "[ledger\n")
    with pytest.raises(ConfigError) as info:
        load_config(None, {})
    assert info.value.problems == [
        "pmo-ledger.toml: line 1: expected ']' at the end of a table declaration (column 8)"
    ]


def test_reserved_connector_name_message(tmp_path: Path) -> None:
    """The connector name "@reconcile" is reserved."""
    assert problems(tmp_path, '[connectors."@reconcile"]\nkind = "sample"\n') == [
        'connectors."@reconcile": the name "@reconcile" is reserved'
    ]


def test_bad_connector_name_message(tmp_path: Path) -> None:
    """A connector name with upper case letters is refused."""
    assert problems(tmp_path, '[connectors.SalesForce]\nkind = "salesforce"\n') == [
        'connectors.SalesForce: a connector name is 1-63 lowercase letters, digits, "_" or "-", '
        "starting with a letter"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Problems in several sections come back together, one line each."""
    text = '[ledger]\nbase_currency = "EU"\n[service]\nport = 0\nstop_timeout = "8"\n'
    assert problems(tmp_path, text) == [
        "ledger.base_currency: expected a 3-letter ISO 4217 currency code like \"EUR\", got 'EU'",
        "service.port: input should be greater than or equal to 1",
        'service.stop_timeout: expected a duration like "15m"',
    ]


def test_non_loopback_host_needs_a_token(tmp_path: Path) -> None:
    """Binding the API beyond loopback without api_token is refused."""
    assert problems(tmp_path, '[service]\nhost = "0.0.0.0"\n') == [
        "service.api_token: required when host is not loopback ('0.0.0.0')"
    ]


def test_format_config_error_joins_lines() -> None:
    """format_config_error gives one line per problem."""
    error = ConfigError(["a.b: one", "c: two"])
    assert format_config_error(error) == "a.b: one\nc: two"


def test_load_or_exit_prints_problems_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """load_or_exit prints each problem on its own stderr line and exits with code 2."""
    path = write(tmp_path, '[ledger]\nbase_currency = "EURO"\nunknown_key = 1\n')
    with pytest.raises(SystemExit) as info:
        load_or_exit(path, {})
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "ledger.base_currency: expected a 3-letter ISO 4217 currency code like \"EUR\", got 'EURO'",
        "ledger.unknown_key: unknown key",
    ]


# --- authority -----------------------------------------------------------------------------------


def test_single_connector_is_authority_for_everything(tmp_path: Path) -> None:
    """With one connector and no authority table, it owns projects and every measure."""
    authority = load(tmp_path, '[connectors.psa]\nkind = "salesforce"\n').ledger.authority
    assert (authority.projects, authority.labor, authority.expense) == ("psa", "psa", "psa")
    assert (authority.hours, authority.revenue, authority.budget) == ("psa", "psa", "psa")


def test_authority_override_most_specific_wins(tmp_path: Path) -> None:
    """A project override beats a portfolio override, which beats the default."""
    text = (
        TWO_CONNECTORS
        + FULL_AUTHORITY
        + 'overrides = [{portfolio = "EMEA", labor = "demo"}, {project = "P-1", labor = "psa"}]\n'
    )
    config = load(tmp_path, text)
    assert config.authority_for("labor", portfolio="EMEA", project="P-1") == "psa"
    assert config.authority_for("labor", portfolio="EMEA", project="P-2") == "demo"
    assert config.authority_for("labor", portfolio="APAC") == "psa"


# --- secrets -------------------------------------------------------------------------------------


def test_secret_from_environment(tmp_path: Path) -> None:
    """A ${VAR} reference takes the variable's value, held as SecretStr."""
    text = '[connectors.sf]\nkind = "salesforce"\npassword = "${SF_PASSWORD}"\n'
    settings = load(tmp_path, text, {"SF_PASSWORD": "hunter2"}).connectors["sf"].settings
    assert settings["password"] == SecretStr("hunter2")


def test_secret_from_file(tmp_path: Path) -> None:
    """password_file = PATH sets password to the file's stripped content."""
    (tmp_path / "sf.pw").write_text("  hunter2\n")
    text = '[connectors.sf]\nkind = "salesforce"\npassword_file = "sf.pw"\n'
    settings = load(tmp_path, text).connectors["sf"].settings
    assert settings == {"password": SecretStr("hunter2")}


def test_secret_file_that_cannot_be_read(tmp_path: Path) -> None:
    """A *_file naming a missing file names the key and the file."""
    text = '[connectors.sf]\nkind = "salesforce"\npassword_file = "/nonexistent/sf.pw"\n'
    assert problems(tmp_path, text) == [
        "connectors.sf.password_file: cannot read /nonexistent/sf.pw: No such file or directory"
    ]


def test_secret_and_secret_file_together_are_refused(tmp_path: Path) -> None:
    """Setting both password and password_file is ambiguous."""
    text = '[connectors.sf]\nkind = "salesforce"\npassword = "a"\npassword_file = "b"\n'
    assert problems(tmp_path, text) == [
        "connectors.sf.password_file: set either password_file or password, not both"
    ]


def test_non_secret_connector_settings_stay_plain(tmp_path: Path) -> None:
    """Kind settings that are not credentials keep their TOML values and types."""
    text = '[connectors.sf]\nkind = "salesforce"\nusername = "u@x.com"\ninstance_url = "https://t"\n'
    settings = load(tmp_path, text).connectors["sf"].settings
    assert settings == {"username": "u@x.com", "instance_url": "https://t"}


def test_escaped_reference_is_literal(tmp_path: Path) -> None:
    """$${X} writes a literal ${X}."""
    text = '[connectors.sf]\nkind = "salesforce"\nusername = "$${X}"\n'
    assert load(tmp_path, text).connectors["sf"].settings["username"] == "${X}"


SECRETS = {"SF_PASSWORD": "hunter2-sf", "API_TOKEN": "tok-4242", "HOOK": "https://h/s3cr3t"}
CONFIG_WITH_REFERENCES = """
[ledger]
url = "postgresql://pmo:${SF_PASSWORD}@db/pmo"
[connectors.sf]
kind = "salesforce"
password = "${SF_PASSWORD}"
[connectors.sf.auth]
client_secret = "${API_TOKEN}"
[service]
api_token = "${API_TOKEN}"
webhooks = ["${HOOK}"]
"""


@pytest.mark.parametrize(
    "render",
    [repr, str, lambda c: c.model_dump_json(), lambda c: json.dumps(c.model_dump(mode="json"))],
    ids=["repr", "str", "model_dump_json", "model_dump_json_mode"],
)
def test_secrets_never_printed(tmp_path: Path, render: Any) -> None:
    """No secret value appears when the configuration is printed or dumped."""
    output = render(load(tmp_path, CONFIG_WITH_REFERENCES, SECRETS))
    assert [s for s in SECRETS.values() if s in output] == []


def test_secrets_resolved_for_use(tmp_path: Path) -> None:
    """The secrets hidden from output are still there for the code that needs them."""
    config = load(tmp_path, CONFIG_WITH_REFERENCES, SECRETS)
    assert config.connectors["sf"].settings["auth"]["client_secret"].get_secret_value() == (
        "tok-4242"
    )
    assert config.service.webhooks[0].get_secret_value() == "https://h/s3cr3t"
    assert config.ledger.url == "postgresql://pmo:hunter2-sf@db/pmo"


def test_secrets_never_logged(tmp_path: Path) -> None:
    """A JSON log line carrying the configuration and connector settings shows no secret."""
    config = load(tmp_path, CONFIG_WITH_REFERENCES, SECRETS)
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    try:
        structlog.get_logger().info(
            "config_loaded", config=config, settings=config.connectors["sf"].settings
        )
    finally:
        reset_logging()
    line = stream.getvalue()
    assert json.loads(line)["event"] == "config_loaded"
    assert [s for s in SECRETS.values() if s in line] == []


# --- decimals ------------------------------------------------------------------------------------


def test_thresholds_are_decimals(tmp_path: Path) -> None:
    """Threshold amounts and TOML float literals become exact Decimals, never floats."""
    text = '[reconcile.rules.budget_overrun]\npct = 7.5\namount = "1000.10"\nhigh_pct = 0.1\n'
    rule = load(tmp_path, text).reconcile.rule("budget_overrun")
    assert (rule.pct, rule.amount, rule.high_pct) == (
        Decimal("7.5"),
        Decimal("1000.10"),
        Decimal("0.1"),
    )
    assert type(rule.high_pct) is Decimal


def test_threshold_override_keeps_wider_values(tmp_path: Path) -> None:
    """A project override changes only the thresholds it sets; a rule keeps its own defaults
    (burn_rate: 25%) where the table does not set them."""
    text = (
        '[reconcile.rules.burn_rate]\namount = 10\n'
        '[[reconcile.overrides]]\nproject = "P-1"\npct = 5\n'
        '[[reconcile.overrides]]\nportfolio = "PF"\nrule = "burn_rate"\npct = 30\namount = 7\n'
    )
    cfg = load(tmp_path, text).reconcile
    assert (cfg.rule("burn_rate").pct, cfg.rule("burn_rate").amount) == (Decimal(25), Decimal(10))
    p1 = cfg.for_subject("budget_overrun", project="P-1")
    assert (p1.pct, p1.amount) == (Decimal(5), Decimal(1000))
    both = cfg.for_subject("burn_rate", portfolio="PF", project="P-1")
    assert (both.pct, both.amount) == (Decimal(5), Decimal(7))


def test_unknown_rules_are_refused(tmp_path: Path) -> None:
    assert problems(tmp_path, "[reconcile.rules.budget_overun]\npct = 5\n") == [
        "reconcile.rules: unknown rule budget_overun (rules: budget_overrun, forecast_overrun, "
        "burn_rate, hours_overrun, over_allocation, under_utilization, source_disagreement, "
        "data_quality, released_overrun)"
    ]
