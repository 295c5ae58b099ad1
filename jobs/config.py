"""The whole configuration: one TOML file -> `AppConfig`, or `ConfigError` listing every problem.

Lookup (`resolve_config_path`): `--config PATH`, else `$PMO_LEDGER_CONFIG`, else
`./pmo-ledger.toml`; with none of them, built-in defaults (an SQLite file ledger). Float literals
are read as Decimal. `${ENV}` references and `*_file` keys are resolved first (`jobs.secrets`),
then the models validate; every problem becomes one line `key.path: problem`. The environment is
always handed in by the entry point, never read here.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from pmo_ledger.jobs.secrets import Loc, Problem, resolve_secrets, wrap_secrets
from pmo_ledger.ledger.planning.settings import PlanningSettings
from pmo_ledger.ledger.rag import RagRules
from pmo_ledger.ledger.reconcile.settings import ReconcileRules
from pmo_ledger.ledger.settings import MEASURES, Duration, LedgerSettings, parse_duration
from pmo_ledger.ledger.urls import mask_url

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger

CONFIG_ENV = "PMO_LEDGER_CONFIG"
DEFAULT_CONFIG_FILE = Path("pmo-ledger.toml")
RESERVED_NAMES = frozenset({"@reconcile"})
AUTHORITY_KEYS = ("projects", *MEASURES)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_KIND = re.compile(r"^[a-z][a-z0-9_.-]*$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_PYDANTIC_TAG = re.compile(r"^[a-z-]+\[.*\]$")  # union / validator tags in error locations
_TOML_AT = re.compile(
    r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


class ConfigError(Exception):
    """The configuration is unusable; `problems` holds one line per problem, `key.path: problem`."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class _Problems(ValueError):
    """Several problems found by one validator, each at a location relative to the model."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{_dotted(loc)}: {msg}" for loc, msg in self.problems))


# --- field types -------------------------------------------------------------------------------


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than 0s")
    return value


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]


def _schedule(value: object) -> str:
    if isinstance(value, str) and len(value.split()) == 5:
        # APScheduler (and asyncio with it) only for a cron schedule: commands start faster.
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"invalid cron expression {value!r}: {exc}") from None
        return " ".join(value.split())
    try:
        interval = parse_duration(value)
    except ValueError:
        raise ValueError(
            'expected an interval like "15m" or a 5-field cron expression like "0 2 * * *", '
            f"got {value!r}"
        ) from None
    if interval <= timedelta(0):
        raise ValueError("an interval must be longer than 0s")
    return str(value).strip()


Schedule = Annotated[str, BeforeValidator(_schedule)]


def _connector_name(value: str) -> str:
    if value in RESERVED_NAMES:
        raise ValueError(f'the name "{value}" is reserved')
    if not _NAME.match(value):
        raise ValueError(
            'a connector name is 1-63 lowercase letters, digits, "_" or "-", starting with a letter'
        )
    return value


ConnectorName = Annotated[str, AfterValidator(_connector_name)]


def schedule_trigger(schedule: str, timezone: str = "UTC") -> BaseTrigger:
    """APScheduler trigger for a validated schedule: an interval ("15m") or a 5-field cron."""
    from apscheduler.triggers.cron import CronTrigger
    from apscheduler.triggers.interval import IntervalTrigger

    if len(schedule.split()) == 5:
        return CronTrigger.from_crontab(schedule, timezone=timezone)
    seconds = int(parse_duration(schedule).total_seconds())
    return IntervalTrigger(seconds=seconds, timezone=timezone)


# --- sections ----------------------------------------------------------------------------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConnectorConfig(_Section):
    """A `[connectors.<name>]` table; keys other than the fields below go to `settings`."""

    kind: str
    schedule: Schedule | None = None
    lookback: Duration = timedelta(minutes=15)
    enabled: bool = True
    connect_timeout: PositiveDuration = timedelta(seconds=10)
    read_timeout: PositiveDuration = timedelta(seconds=120)
    #: The kind's own settings, validated by the connector; secret-named values are SecretStr.
    settings: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split_settings(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        own = set(cls.model_fields) - {"settings"}
        rest = {k: v for k, v in data.items() if k not in own}
        if set(rest) == {"settings"} and isinstance(rest["settings"], Mapping):
            rest = dict(rest["settings"])  # already split (built in Python)
        return {**{k: v for k, v in data.items() if k in own}, "settings": wrap_secrets(rest)}

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if not _KIND.match(value):
            raise ValueError(f'expected a connector kind like "salesforce", got {value!r}')
        return value


class ReconcileConfig(ReconcileRules):
    """The `[reconcile]` table: when reconciliation runs, and its rules (`[reconcile.rules.<rule>]`,
    `[[reconcile.overrides]]`; see ledger.reconcile.settings)."""

    enabled: bool = True
    schedule: Schedule | None = None
    after_sync: bool = True


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ServiceConfig(_Section):
    """The `[service]` table: HTTP API and scheduler of `pmo-ledger serve`."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    api_token: SecretStr | None = None
    read_requires_token: bool = False
    stop_timeout: PositiveDuration = timedelta(seconds=8)
    webhooks: list[SecretStr] = Field(default_factory=list)
    #: Each webhook POST gives up after this long; a failed one is tried this many times in all.
    webhook_timeout: PositiveDuration = timedelta(seconds=5)
    webhook_attempts: int = Field(default=3, ge=1, le=10)
    #: Time zone of cron schedules.
    timezone: str = "UTC"
    #: A longer request body is refused with 413 before it is read (jobs.service.gate).
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    #: The request line and headers together; longer ones get 400 from the HTTP server.
    max_header_bytes: int = Field(default=16_384, ge=1024, le=1_048_576)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f'expected an IANA time zone like "Europe/Paris", got {value!r}'
            ) from None
        return value

    @field_validator("webhooks")
    @classmethod
    def _webhook_urls(cls, value: list[SecretStr]) -> list[SecretStr]:
        bad = [
            i
            for i, url in enumerate(value)
            if not url.get_secret_value().startswith(("https://", "http://"))
        ]
        if bad:
            raise _Problems([((i,), "expected an http(s) URL") for i in bad])
        return value

    @model_validator(mode="after")
    def _token(self) -> ServiceConfig:
        if self.api_token is None and self.read_requires_token:
            raise _Problems([(("read_requires_token",), "needs service.api_token")])
        if self.api_token is None and not is_loopback(self.host):
            raise _Problems(
                [(("api_token",), f"required when host is not loopback ({self.host!r})")]
            )
        return self


class ReportConfig(_Section):
    """The `[report]` table: the RAG rules of the status workbook (`[report.rag]`, see
    ledger.rag)."""

    rag: RagRules = Field(default_factory=RagRules)


class LoggingConfig(_Section):
    """The `[logging]` table (see jobs.logconfig)."""

    format: Literal["auto", "json", "console"] = "auto"
    level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
    ] = "INFO"


class AppConfig(_Section):
    """The whole configuration. With one connector and no authority, that connector is the
    authority for everything: `ledger.authority` is always the resolved one."""

    ledger: LedgerSettings = Field(default_factory=LedgerSettings)
    connectors: dict[ConnectorName, ConnectorConfig] = Field(default_factory=dict)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    report: ReportConfig = Field(default_factory=ReportConfig)
    service: ServiceConfig = Field(default_factory=ServiceConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)

    @model_validator(mode="after")
    def _resolve_authority(self) -> AppConfig:
        names = list(self.connectors)
        problems = _authority_problems(self.ledger, names)
        if problems:
            raise _Problems(problems)
        if len(names) == 1:
            auth = self.ledger.authority
            filled = {k: names[0] for k in AUTHORITY_KEYS if getattr(auth, k) is None}
            ledger = self.ledger.model_copy(update={"authority": auth.model_copy(update=filled)})
            object.__setattr__(self, "ledger", ledger)  # frozen model; validated input
        return self

    @field_serializer("ledger", mode="wrap")
    def _hide_url_password(
        self, value: LedgerSettings, handler: SerializerFunctionWrapHandler
    ) -> Any:
        dumped = handler(value)
        if isinstance(dumped, dict) and isinstance(dumped.get("url"), str):
            dumped["url"] = mask_url(dumped["url"])
        return dumped

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            if name == "ledger" and isinstance(value, LedgerSettings):
                value = value.model_copy(update={"url": mask_url(value.url)})
            yield name, value

    def authority_for(
        self,
        measure: str,
        *,
        portfolio: str | None = None,
        program: str | None = None,
        project: str | None = None,
    ) -> str:
        """Connector name whose values count for `measure` ("projects", "labor", ...) for a
        subject; the most specific override wins. Raises LookupError with no connector."""
        if measure not in AUTHORITY_KEYS:
            raise ValueError(f"unknown measure {measure!r}; expected one of {AUTHORITY_KEYS}")
        auth = self.ledger.authority
        if measure != "projects":
            for kind, value in (
                ("project", project),
                ("program", program),
                ("portfolio", portfolio),
            ):
                for override in auth.overrides:
                    source = getattr(override, measure)
                    if value is not None and source and override.scope == (kind, value):
                        return str(source)
        source = getattr(auth, measure)
        if source is None:
            raise LookupError(f"no authority for {measure}: no connector is configured")
        return str(source)


def _authority_problems(ledger: LedgerSettings, names: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    known = f"configured: {', '.join(map(repr, names))}" if names else "no connector is configured"

    def check(loc: Loc, source: str | None) -> None:
        if source is not None and source not in names:
            problems.append((loc, f"unknown connector {source!r} ({known})"))

    auth = ledger.authority
    for key in AUTHORITY_KEYS:
        check(("ledger", "authority", key), getattr(auth, key))
    for i, override in enumerate(auth.overrides):
        for measure in MEASURES:
            check(("ledger", "authority", "overrides", i, measure), getattr(override, measure))
    for i, source in enumerate(ledger.rate_sources):
        check(("ledger", "rate_sources", i), None if source == "manual" else source)
    for i, rule in enumerate(ledger.link_rules):
        check(("ledger", "link_rules", i, "source"), None if rule.source == "*" else rule.source)
    if len(names) > 1:
        missing = [k for k in AUTHORITY_KEYS if getattr(auth, k) is None]
        if len(missing) == len(AUTHORITY_KEYS):
            problems.append(
                (
                    ("ledger", "authority"),
                    f"required when several connectors are configured: set {', '.join(missing)}",
                )
            )
        else:
            problems.extend(
                (("ledger", "authority", k), "required when several connectors are configured")
                for k in missing
            )
    return problems


# --- loading -----------------------------------------------------------------------------------


def resolve_config_path(explicit: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The configuration file to read: `explicit`, else $PMO_LEDGER_CONFIG, else
    ./pmo-ledger.toml when it exists, else None (built-in defaults)."""
    if explicit is not None:
        return explicit
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_config(path: Path | None, environ: Mapping[str, str]) -> AppConfig:
    """Read and validate the configuration (`path` as from `--config`, looked up when None).

    Raises ConfigError listing every problem, one line each.
    """
    resolved = resolve_config_path(path, environ)
    if resolved is None:
        return parse_config({}, environ, base_dir=Path.cwd())
    return parse_config(_read_toml(resolved), environ, base_dir=resolved.parent)


def parse_config(data: Mapping[str, Any], environ: Mapping[str, str], base_dir: Path) -> AppConfig:
    """Validate a parsed TOML document; relative file paths are taken from `base_dir`.

    Raises ConfigError listing every problem, one line each.
    """
    resolved, problems = resolve_secrets(data, environ, base_dir)
    _anchor_calendar_file(resolved, base_dir)
    try:
        config = AppConfig.model_validate(resolved)
    except ValidationError as exc:
        seen = [loc for loc, _ in problems]
        problems += [
            (loc, msg)
            for loc, msg in validation_problems(exc)
            if not any(loc[: len(s)] == s for s in seen)
        ]
        raise ConfigError([_line(loc, msg) for loc, msg in problems]) from None
    problems += connector_settings_problems(config)
    if problems:
        raise ConfigError([_line(loc, msg) for loc, msg in problems])
    return config


def connector_settings_problems(config: AppConfig) -> list[Problem]:
    """The typos in every configured connector's table: a key its installed kind's settings do
    not know (`shedule = "15m"`, at any depth). Checked at load time, so they stop every
    command, `serve` included (it would start without the connector's job). The settings' other
    problems (no credentials, a bad value) and a kind that is not installed stay the
    connector's to report when it is built (`sync`, `check`): a configuration may name a
    connector it does not run, and tests build kinds of their own."""
    from pmo_ledger.connectors.errors import ConnectorConfigError
    from pmo_ledger.connectors.registry import installed_kinds

    if not config.connectors:
        return []
    try:
        kinds = installed_kinds()
    except ConnectorConfigError as exc:
        return [((), str(exc))]
    problems: list[Problem] = []
    for name, cfg in config.connectors.items():
        cls = kinds.get(cfg.kind)
        if cls is None:
            continue
        try:
            cls.settings_model.model_validate(cfg.settings)
        except ValidationError as exc:
            problems += [
                (("connectors", name, *error["loc"]), "unknown key")
                for error in exc.errors()
                if error["type"] == "extra_forbidden"
            ]
    return problems


def load_or_exit(explicit: Path | None, environ: Mapping[str, str]) -> AppConfig:
    """load_config for entry points: on ConfigError print its lines to stderr and exit 2."""
    try:
        return load_config(explicit, environ)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        raise SystemExit(2) from None


def format_config_error(err: ConfigError | ValidationError) -> str:
    """The problems of a ConfigError (or a raw pydantic ValidationError), one per line."""
    if isinstance(err, ValidationError):
        return "\n".join(_line(loc, msg) for loc, msg in validation_problems(err))
    return "\n".join(err.problems)


def validation_problems(err: ValidationError) -> list[Problem]:
    """pydantic errors as (location, message): tags dropped, messages in our words."""
    problems: list[Problem] = []
    for error in err.errors():
        loc = tuple(
            p
            for p in error["loc"]
            if not (isinstance(p, str) and (p == "[key]" or _PYDANTIC_TAG.match(p)))
        )
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            problems.extend(((*loc, *sub), msg) for sub, msg in cause.problems)
        elif error["type"] == "extra_forbidden":
            problems.append((loc, "unknown key"))
        elif error["type"] == "missing":
            problems.append((loc, "required"))
        else:
            msg = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
            problems.append((loc, msg[:1].lower() + msg[1:] if msg[1:2].islower() else msg))
    return problems


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{path}: not UTF-8 text"]) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_AT.match(str(exc))
        if match is None:
            raise ConfigError([f"{path}: {exc}"]) from None
        msg = match["msg"][:1].lower() + match["msg"][1:]
        if match["line"] is None:
            line = max(len(text.splitlines()), 1)
            raise ConfigError([f"{path}: line {line}: {msg} (at end of file)"]) from None
        raise ConfigError(
            [f"{path}: line {match['line']}: {msg} (column {match['col']})"]
        ) from None


def _anchor_calendar_file(data: dict[str, Any], base_dir: Path) -> None:
    # A relative calendar file is relative to the configuration file, like `*_file` secrets.
    calendar = (
        data.get("ledger", {}).get("calendar") if isinstance(data.get("ledger"), dict) else None
    )
    if isinstance(calendar, dict) and isinstance(calendar.get("file"), str):
        file = Path(calendar["file"]).expanduser()
        calendar["file"] = str(file if file.is_absolute() else base_dir / file)


def _dotted(loc: Loc) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            key = part if _BARE_KEY.match(part) else json.dumps(part)
            path += f".{key}" if path else key
    return path


def _line(loc: Loc, msg: str) -> str:
    return f"{_dotted(loc)}: {msg}" if loc else msg
