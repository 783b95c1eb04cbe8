"""MLflow tracing of Claude Code sessions, through ``~/.claude/settings.json``.

mlflow-skinny 3.17 retired its Python Stop hook (``stop_hook_handler`` is now
a no-op shim pointing at a marketplace plugin that ``claude plugin install``
fetches from GitHub).  The transcript-to-trace code still ships in
``mlflow.claude_code.tracing``; ``mlflow_hook.py`` drives it, run by the
server's own interpreter, which is known to have mlflow.  The env key names
are mlflow's own.

Not ``mlflow.claude_code.config.setup_environment_config``: it contacts the
tracking server at write time to turn the experiment name into an id (a
network call and credentials during setup; the hook resolves the name at
trace time instead) and rewrites settings.json in place, non-atomically, while
that file holds the model token.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from .context import ConfigContext, ConfigWriter
from .merge import SECRET_MODE, child, update_json

HOOK_SCRIPT = Path(__file__).resolve().with_name("mlflow_hook.py")
HOOK_EVENT = "Stop"
# Hook commands replaced by ours: our own (any install location), mlflow's
# inline and CLI hooks, and upstream's wrapper script.
HOOK_MARKERS = ("writers/mlflow_hook.py", "mlflow.claude_code.hooks", "mlflow autolog claude", "mlflow_stop_hook")
ALLOW_FILE_STORE = "MLFLOW_ALLOW_FILE_STORE"
OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
# Values of those two that only we would have written.
_OUR_VALUES = {ALLOW_FILE_STORE: "true", OTLP_ENDPOINT: ""}


# mlflow's own variable names (``mlflow.claude_code.config`` and
# ``mlflow.environment_variables``; a test keeps them equal). Written out
# rather than imported: importing mlflow in the server costs most of a
# second and, outside tests, creates ``~/.config/mlflow/telemetry.json``
# in the user's HOME.
NAMES = {
    "enabled": "MLFLOW_CLAUDE_TRACING_ENABLED",
    "uri": "MLFLOW_TRACKING_URI",
    "experiment": "MLFLOW_EXPERIMENT_NAME",
    "experiment_id": "MLFLOW_EXPERIMENT_ID",
}


def _names() -> dict[str, str]:
    return NAMES


def settings_path(ctx: ConfigContext) -> Path:
    return ctx.home / ".claude" / "settings.json"


def hook_log_path(ctx: ConfigContext) -> Path:
    return ctx.resolved_data_dir / "logs" / "mlflow-hook.log"


def tracking_uri(ctx: ConfigContext) -> str:
    if ctx.mlflow.tracking_uri:
        return ctx.mlflow.tracking_uri
    if ctx.host:
        return "databricks"
    return (ctx.resolved_data_dir / "mlflow").as_uri()


def experiment_name(ctx: ConfigContext) -> str:
    return ctx.mlflow.experiment_name or f"/Users/{ctx.owner}/{ctx.mlflow.app_name}"


def hook_command(ctx: ConfigContext) -> str:
    """Silent even when the interpreter vanished: stderr is dropped and the
    exit status forced to 0, so Claude Code never reports a hook error."""
    parts = [ctx.mlflow.hook_python, str(HOOK_SCRIPT), "--log", str(hook_log_path(ctx))]
    return " ".join(shlex.quote(part) for part in parts) + " 2>/dev/null || true"


def _is_ours(hook: Any) -> bool:
    command = hook.get("command") if isinstance(hook, dict) else None
    return isinstance(command, str) and any(marker in command for marker in HOOK_MARKERS)


def _without_our_hooks(groups: list[Any]) -> list[Any]:
    kept: list[Any] = []
    for group in groups:
        if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
            kept.append(group)
            continue
        hooks = [hook for hook in group["hooks"] if not _is_ours(hook)]
        if hooks:
            kept.append({**group, "hooks": hooks})
    return kept


def _env_values(ctx: ConfigContext, names: dict[str, str]) -> dict[str, str]:
    uri = tracking_uri(ctx)
    values = {names["enabled"]: "true", names["uri"]: uri, names["experiment"]: experiment_name(ctx)}
    if uri.startswith("file:"):
        # mlflow 3.x refuses the file store unless told; mlflow-skinny has no
        # SQL backend, so the file store is the local option that works.
        values[ALLOW_FILE_STORE] = "true"
    if uri == "databricks":
        # A container-level OTLP endpoint would divert traces away from
        # Databricks (upstream found this in Apps).
        values[OTLP_ENDPOINT] = ""
    return values


def write(ctx: ConfigContext) -> list[Path]:
    if not ctx.mlflow.enabled:
        return disable(ctx)
    names = _names()
    env_values = _env_values(ctx, names)
    command = hook_command(ctx)

    def merge(data: dict[str, Any]) -> None:
        env = child(data, "env")
        env.update(env_values)
        for stale in (ALLOW_FILE_STORE, OTLP_ENDPOINT):
            if stale not in env_values and env.get(stale) == _OUR_VALUES[stale]:
                del env[stale]
        hooks = child(data, "hooks")
        groups = hooks.get(HOOK_EVENT)
        kept = _without_our_hooks(groups if isinstance(groups, list) else [])
        hooks[HOOK_EVENT] = [*kept, {"hooks": [{"type": "command", "command": command}]}]

    hook_log_path(ctx).parent.mkdir(parents=True, exist_ok=True)
    path = settings_path(ctx)
    return [path] if update_json(path, merge, SECRET_MODE) else []


def disable(ctx: ConfigContext) -> list[Path]:
    """Remove our env keys and hooks; leave everything else as it was."""
    path = settings_path(ctx)
    if not path.exists():
        return []
    names = _names()

    def strip(data: dict[str, Any]) -> None:
        env = data.get("env")
        if isinstance(env, dict):
            for key in names.values():
                env.pop(key, None)
            for key, value in _OUR_VALUES.items():
                if env.get(key) == value:
                    del env[key]
            if not env:
                del data["env"]
        hooks = data.get("hooks")
        if isinstance(hooks, dict) and isinstance(hooks.get(HOOK_EVENT), list):
            kept = _without_our_hooks(hooks[HOOK_EVENT])
            if kept:
                hooks[HOOK_EVENT] = kept
            else:
                del hooks[HOOK_EVENT]
            if not hooks:
                del data["hooks"]

    return [path] if update_json(path, strip, SECRET_MODE) else []


WRITER = ConfigWriter("mlflow", write)
