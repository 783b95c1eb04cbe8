"""``~/.databrickscfg``: the DEFAULT profile for the Databricks CLI and SDK.

Other profiles and keys the user keeps in the file survive; configparser runs
without interpolation (tokens may contain ``%``) and keeps key case.
"""

from __future__ import annotations

import configparser
import io
from pathlib import Path

from .context import ConfigContext, ConfigWriter
from .merge import SECRET_MODE, ConfigFileError, write_if_changed

SECTION = "DEFAULT"


def config_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".databrickscfg"


def _parser() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, default_section=SECTION)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    return parser


def _https(host: str) -> str:
    host = host.strip().rstrip("/")
    return host if host.startswith(("https://", "http://")) else f"https://{host}"


def _update(ctx: ConfigContext, values: dict[str, str]) -> list[Path]:
    path = config_path(ctx)
    parser = _parser()
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
    try:
        parser.read_string(current)
    except configparser.Error as exc:
        raise ConfigFileError(path, f"invalid INI: {exc.__class__.__name__}") from None
    defaults = parser.defaults()
    if all(defaults.get(key) == value for key, value in values.items()):
        return []
    defaults.update(values)
    buffer = io.StringIO()
    parser.write(buffer)
    return [path] if write_if_changed(path, buffer.getvalue(), SECRET_MODE) else []


def write(ctx: ConfigContext) -> list[Path]:
    if not (ctx.host and ctx.databricks_token):
        return []
    return _update(ctx, {"host": _https(ctx.host), "token": ctx.databricks_token})


def update_token(ctx: ConfigContext) -> list[Path]:
    if not ctx.databricks_token or not config_path(ctx).exists():
        return []
    return _update(ctx, {"token": ctx.databricks_token})


WRITER = ConfigWriter("databricks", write, update_token)
