"""Secrets in the configuration: `${ENV_VAR}` references, `*_file` keys, and which keys are secret.

The TOML file is processed here before validation (`jobs.config`), so every model sees plain
values:

- any string may contain `${NAME}` references, replaced from the environ handed in (never read
  from `os.environ` here); `$${` writes a literal `${`;
- a key ending in `_file` (`password_file = "/run/secrets/sf"`) names a file whose stripped
  content becomes the value of the key without the suffix (`password`). A relative path is
  relative to the directory of the configuration file.

Problems are returned as `(location, message)` pairs, one per key, so the caller can report them
all at once with the key's dotted path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]

_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# mysapsso2 / x509cert: an SAP logon ticket and certificate log on as their user (bearer).
_SECRET_KEY = re.compile(
    r"password|passwd|secret|token|private_key|api_key|credential|webhook|mysapsso2|x509cert",
    re.IGNORECASE,
)
# Where a key names an endpoint rather than a credential (`token_url`), it is not secret.
_ENDPOINT_SUFFIXES = ("_url", "_uri", "_endpoint")
FILE_SUFFIX = "_file"


def is_secret_key(key: str) -> bool:
    """True when a setting named `key` holds a credential (password, token, webhook URL, ...)."""
    if not _SECRET_KEY.search(key):
        return False
    lowered = key.lower()
    return "webhook" in lowered or not lowered.endswith(_ENDPOINT_SUFFIXES)


def wrap_secrets(value: Any, key: str | None = None) -> Any:
    """Copy of `value` with strings under secret-named keys wrapped in SecretStr, recursively."""
    if isinstance(value, Mapping):
        return {k: wrap_secrets(v, str(k)) for k, v in value.items()}
    secret = key is not None and is_secret_key(key)
    if isinstance(value, list):
        return [SecretStr(v) if secret and isinstance(v, str) else wrap_secrets(v) for v in value]
    if secret and isinstance(value, str):
        return SecretStr(value)
    return value


def resolve_secrets(
    data: Mapping[str, Any], environ: Mapping[str, str], base_dir: Path
) -> tuple[dict[str, Any], list[Problem]]:
    """Resolve `${NAME}` references and `*_file` keys in a parsed TOML document.

    Returns the resolved copy and the problems found; an unresolved value is left as written.
    """
    problems: list[Problem] = []
    resolved = _resolve_table(data, (), environ, base_dir, problems)
    return resolved, problems


def _resolve_table(
    table: Mapping[str, Any],
    loc: Loc,
    environ: Mapping[str, str],
    base_dir: Path,
    problems: list[Problem],
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in table.items():
        value = _resolve_value(raw, (*loc, key), environ, base_dir, problems)
        target = key[: -len(FILE_SUFFIX)]
        if not (key.endswith(FILE_SUFFIX) and target and isinstance(value, str)):
            out[key] = value
        elif target in table:
            problems.append(((*loc, key), f"set either {key} or {target}, not both"))
        elif not any(seen == (*loc, key) for seen, _ in problems):  # path had a bad ${...}
            content = _read_secret_file(value, base_dir, (*loc, key), problems)
            if content is not None:
                out[target] = content
    return out


def _resolve_value(
    value: Any, loc: Loc, environ: Mapping[str, str], base_dir: Path, problems: list[Problem]
) -> Any:
    if isinstance(value, str):
        return _interpolate(value, loc, environ, problems)
    if isinstance(value, list):
        return [
            _resolve_value(item, (*loc, i), environ, base_dir, problems)
            for i, item in enumerate(value)
        ]
    if isinstance(value, Mapping):
        return _resolve_table(value, loc, environ, base_dir, problems)
    return value


def _interpolate(text: str, loc: Loc, environ: Mapping[str, str], problems: list[Problem]) -> str:
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:  # `$${` escapes a literal `${`
            return "${"
        if name not in environ:
            missing.append(name)
            return match.group(0)
        return environ[name]

    result = _REFERENCE.sub(substitute, text)
    if missing:
        names = list(dict.fromkeys(missing))
        if len(names) == 1:
            problems.append((loc, f"environment variable {names[0]} is not set"))
        else:
            problems.append((loc, f"environment variables {', '.join(names)} are not set"))
        return text
    return result


def _read_secret_file(name: str, base_dir: Path, loc: Loc, problems: list[Problem]) -> str | None:
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    try:
        content = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError:
        problems.append((loc, f"cannot read {path}: not UTF-8 text"))
        return None
    except OSError as exc:
        problems.append((loc, f"cannot read {path}: {exc.strerror or exc}"))
        return None
    if not content:
        problems.append((loc, f"{path} is empty"))
        return None
    return content
