from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents.writers import ConfigContext, MlflowSettings, claude, claude_attention, mlflow

from .helpers import TOKEN, mode, snapshot

UPSTREAM_INLINE_HOOK = 'uv run python -c "from mlflow.claude_code.hooks import stop_hook_handler; stop_hook_handler()"'
USER_HOOK = {"type": "command", "command": "notify-send done"}


def settings(home: Path) -> dict[str, Any]:
    return json.loads((home / ".claude" / "settings.json").read_text())


def stop_commands(home: Path) -> list[str]:
    return [hook["command"] for group in settings(home)["hooks"]["Stop"] for hook in group["hooks"]]


def test_databricks_mode_env_and_hook(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    ctx = make_ctx()
    assert mlflow.write(ctx) == [home / ".claude" / "settings.json"]
    env = settings(home)["env"]
    assert env == {
        "MLFLOW_CLAUDE_TRACING_ENABLED": "true",
        "MLFLOW_TRACKING_URI": "databricks",
        "MLFLOW_EXPERIMENT_NAME": "/Users/jane.doe@example.com/coda-jupyter",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    }
    assert stop_commands(home) == [mlflow.hook_command(ctx)]
    assert mode(home / ".claude" / "settings.json") == 0o600


def test_local_mode_uses_a_file_store_under_the_data_dir(local_ctx: ConfigContext, home: Path) -> None:
    mlflow.write(local_ctx)
    env = settings(home)["env"]
    assert env["MLFLOW_TRACKING_URI"] == (home / ".local" / "share" / "coda-jupyter" / "mlflow").as_uri()
    assert env["MLFLOW_ALLOW_FILE_STORE"] == "true"
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in env


def test_everything_is_configurable(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    ctx = make_ctx(
        mlflow=MlflowSettings(tracking_uri="http://mlflow:5000", experiment_name="/Shared/agents", app_name="x")
    )
    mlflow.write(ctx)
    env = settings(home)["env"]
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["MLFLOW_EXPERIMENT_NAME"] == "/Shared/agents"


def test_merges_with_the_claude_writer_and_user_hooks_without_duplicates(
    make_ctx: Callable[..., ConfigContext], home: Path
) -> None:
    path = home / ".claude" / "settings.json"
    path.parent.mkdir()
    path.write_text(
        json.dumps(
            {
                "env": {"MY": "1"},
                "hooks": {
                    "Stop": [
                        {"hooks": [{"type": "command", "command": UPSTREAM_INLINE_HOOK}]},
                        {"hooks": [{"type": "command", "command": UPSTREAM_INLINE_HOOK}, USER_HOOK]},
                    ],
                    "PreToolUse": [{"matcher": "Bash", "hooks": [USER_HOOK]}],
                },
            }
        )
    )
    ctx = make_ctx()
    claude.write(ctx)
    mlflow.write(ctx)
    before = snapshot(home)
    assert mlflow.write(ctx) == [] and claude.write(ctx) == []
    assert snapshot(home) == before
    data = settings(home)
    assert data["env"]["MY"] == "1" and data["env"]["ANTHROPIC_AUTH_TOKEN"] == TOKEN
    assert data["env"]["MLFLOW_CLAUDE_TRACING_ENABLED"] == "true"
    # The claude writer's attention hook also sits under Stop (test_claude_attention_hooks.py).
    theirs = [command for command in stop_commands(home) if claude_attention.MARKER not in command]
    assert theirs == [USER_HOOK["command"], mlflow.hook_command(ctx)]
    assert data["hooks"]["PreToolUse"] == [{"matcher": "Bash", "hooks": [USER_HOOK]}]


def test_switching_off_removes_only_our_keys_and_hooks(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    ctx = make_ctx()
    claude.write(ctx)
    before = settings(home)
    path = home / ".claude" / "settings.json"
    data = dict(before, hooks={"Stop": [{"hooks": [USER_HOOK]}]})
    path.write_text(json.dumps(data))
    mlflow.write(ctx)
    assert mlflow.write(make_ctx(mlflow=MlflowSettings(enabled=False))) == [path]
    assert settings(home) == data
    assert mlflow.write(make_ctx(mlflow=MlflowSettings(enabled=False))) == []


def test_switching_off_an_mlflow_only_file_leaves_it_empty(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    mlflow.write(make_ctx())
    mlflow.write(make_ctx(mlflow=MlflowSettings(enabled=False)))
    assert settings(home) == {}


# --- the real Stop hook ------------------------------------------------------

SESSION = "5d2c1a7e-0000-4000-8000-000000000001"


def write_transcript(path: Path) -> None:
    model = "databricks-claude-opus-4-7"
    entries = [
        {
            "type": "user",
            "sessionId": SESSION,
            "uuid": "u1",
            "version": "2.1.197",
            "timestamp": "2026-11-28T10:00:00.000Z",
            "message": {"role": "user", "content": "How many files are in this folder?"},
        },
        {
            "type": "assistant",
            "sessionId": SESSION,
            "uuid": "a1",
            "timestamp": "2026-11-28T10:00:01.000Z",
            "message": {
                "id": "msg_1",
                "model": model,
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls | wc -l"}}],
                "usage": {"input_tokens": 120, "output_tokens": 20},
            },
        },
        {
            "type": "user",
            "sessionId": SESSION,
            "uuid": "u2",
            "timestamp": "2026-11-28T10:00:02.000Z",
            "toolUseResult": {"stdout": "3", "stderr": ""},
            "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "3"}]},
        },
        {
            "type": "assistant",
            "sessionId": SESSION,
            "uuid": "a2",
            "timestamp": "2026-11-28T10:00:03.000Z",
            "message": {
                "id": "msg_2",
                "model": model,
                "role": "assistant",
                "content": [{"type": "text", "text": "There are 3 files."}],
                "usage": {"input_tokens": 150, "output_tokens": 8},
            },
        },
    ]
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))


def run_stop_hook(home: Path, project: Path, transcript: Path) -> subprocess.CompletedProcess[str]:
    """Run the configured Stop hook the way Claude Code does: through a shell,
    with the settings env block applied and the hook payload on stdin."""
    data = settings(home)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DATABRICKS_"))}
    env.update(HOME=str(home), MLFLOW_DISABLE_TELEMETRY="true", **data["env"])
    payload = {
        "session_id": SESSION,
        "transcript_path": str(transcript),
        "cwd": str(project),
        "permission_mode": "default",
        "hook_event_name": "Stop",
        "stop_hook_active": False,
    }
    [command] = stop_commands(home)
    return subprocess.run(
        command,
        shell=True,
        input=json.dumps(payload),
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project(home: Path) -> Path:
    path = home / "projects" / "demo"
    path.mkdir(parents=True)
    return path


def test_stop_hook_turns_a_transcript_into_a_trace(local_ctx: ConfigContext, home: Path, project: Path) -> None:
    from mlflow import MlflowClient

    mlflow.write(local_ctx)
    transcript = home / ".claude" / "projects" / "demo" / f"{SESSION}.jsonl"
    transcript.parent.mkdir(parents=True)
    write_transcript(transcript)

    result = run_stop_hook(home, project, transcript)
    assert result.returncode == 0
    assert result.stderr == ""
    assert json.loads(result.stdout) == {"continue": True}

    env = settings(home)["env"]
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
        experiment = client.get_experiment_by_name(env["MLFLOW_EXPERIMENT_NAME"])
        assert experiment is not None
        traces = client.search_traces(locations=[experiment.experiment_id])
    finally:
        del os.environ["MLFLOW_ALLOW_FILE_STORE"]
    assert len(traces) == 1
    trace = traces[0]
    names = sorted(span.name for span in trace.data.spans)
    assert names == ["claude_code_conversation", "llm", "tool_Bash"]
    assert trace.info.request_preview == "How many files are in this folder?"
    assert trace.info.response_preview == "There are 3 files."
    # mlflow's own log would have landed in the user's project; ours did not.
    assert not (project / ".claude").exists()
    assert "trace tr-" in mlflow.hook_log_path(local_ctx).read_text()


@pytest.mark.parametrize("python", ["missing-mlflow", "/nonexistent/bin/python"])
def test_stop_hook_is_silent_when_mlflow_is_unusable(
    make_ctx: Callable[..., ConfigContext], home: Path, project: Path, python: str
) -> None:
    if python == "missing-mlflow":
        system = shutil.which("python3", path="/usr/bin:/bin")
        check = subprocess.run([system or "python3", "-c", "import mlflow"], capture_output=True)
        if system is None or check.returncode == 0:
            pytest.skip("no interpreter without mlflow on this machine")
        python = system
    ctx = make_ctx(endpoints={}, api_key=None, host=None, mlflow=MlflowSettings(hook_python=python))
    mlflow.write(ctx)
    transcript = project / "t.jsonl"
    write_transcript(transcript)
    for _ in range(2):  # every turn, not just the first
        result = run_stop_hook(home, project, transcript)
        assert result.returncode == 0
        assert result.stderr == ""


def test_variable_names_are_mlflows_own() -> None:
    from mlflow.claude_code.config import MLFLOW_TRACING_ENABLED
    from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID, MLFLOW_EXPERIMENT_NAME, MLFLOW_TRACKING_URI

    assert {
        "enabled": MLFLOW_TRACING_ENABLED,
        "uri": MLFLOW_TRACKING_URI.name,
        "experiment": MLFLOW_EXPERIMENT_NAME.name,
        "experiment_id": MLFLOW_EXPERIMENT_ID.name,
    } == mlflow.NAMES


def test_writing_the_config_never_imports_mlflow(home: Path) -> None:
    """Importing mlflow outside tests writes ~/.config/mlflow/telemetry.json into the user's HOME."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from coda_jupyter.agents.writers import ConfigContext, mlflow\n"
        "assert mlflow.write(ConfigContext(home=Path(sys.argv[1])))\n"
        "print('mlflow' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(home)], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
