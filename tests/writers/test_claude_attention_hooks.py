"""Claude Code's Notification and Stop hooks that coda writes for attention in JupyterLab."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from collections.abc import Callable
from pathlib import Path

from coda_jupyter.agents.writers import ConfigContext, claude, claude_attention, mlflow

from .helpers import mode, snapshot


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def our_commands(settings: dict, event: str) -> list[str]:
    return [
        hook["command"]
        for group in settings["hooks"][event]
        for hook in group["hooks"]
        if claude_attention.MARKER in hook["command"]
    ]


def test_both_hooks_are_written_with_or_without_credentials(
    make_ctx: Callable[..., ConfigContext], local_ctx: ConfigContext, home: Path
) -> None:
    for ctx in (local_ctx, make_ctx()):
        claude.write(ctx)
        settings = read(home / ".claude" / "settings.json")
        assert len(our_commands(settings, "Notification")) == 1
        assert len(our_commands(settings, "Stop")) == 1
        assert "coda-attention;input;" in our_commands(settings, "Notification")[0]
        assert "coda-attention;done;" in our_commands(settings, "Stop")[0]
        assert mode(home / ".claude" / "settings.json") == 0o600


def test_user_hooks_and_the_mlflow_stop_hook_are_kept_and_reruns_add_nothing(
    make_ctx: Callable[..., ConfigContext], home: Path
) -> None:
    settings_file = home / ".claude" / "settings.json"
    settings_file.parent.mkdir()
    mine = {"matcher": "", "hooks": [{"type": "command", "command": "notify-send claude"}]}
    settings_file.write_text(json.dumps({"hooks": {"Notification": [mine]}, "model": "opus"}))
    ctx = make_ctx()
    claude.write(ctx)
    mlflow.write(ctx)
    claude.write(ctx)
    before = snapshot(home)
    assert claude.write(ctx) == []
    assert mlflow.write(ctx) == []
    assert snapshot(home) == before
    settings = read(settings_file)
    assert settings["model"] == "opus"
    assert settings["hooks"]["Notification"][0] == mine
    assert len(our_commands(settings, "Notification")) == 1
    stop = [hook["command"] for group in settings["hooks"]["Stop"] for hook in group["hooks"]]
    assert len(stop) == 2 and any("mlflow_hook.py" in command for command in stop)


def run_in_pty(command: str, env: dict[str, str]) -> tuple[int, bytes]:
    """Run ``sh -c command`` with a terminal as controlling tty and stdout to a pipe,
    as Claude Code runs a hook: it captures stdout, the tty is the user's terminal."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        ["sh", "-c", command],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        # A new session whose controlling terminal is the pty: /dev/tty is the pty.
        preexec_fn=lambda: (os.setsid(), os.close(os.open(os.ttyname(follower), os.O_RDWR))),
        pass_fds=(follower,),
    )
    stdout, stderr = process.communicate(timeout=10)
    os.close(follower)
    seen = b""
    try:
        while chunk := os.read(leader, 4096):
            seen += chunk
    except OSError:
        pass  # EIO once the last writer is gone
    os.close(leader)
    assert stdout == b"" and stderr == b""
    return process.returncode, seen


def test_the_hook_prints_the_sequence_to_the_terminal_only_in_jupyter_terminals() -> None:
    command = claude_attention.hook_command("done", "Claude Code finished its answer")
    base = {"PATH": os.environ["PATH"]}
    code, seen = run_in_pty(command, {**base, "CODA_TERMINAL_PATH": os.environ["PATH"]})
    assert code == 0
    assert seen == b"\x1b]777;coda-attention;done;Claude Code finished its answer\x07"
    code, seen = run_in_pty(command, base)
    assert code == 0 and seen == b""


def test_without_a_terminal_the_hook_is_silent_and_succeeds() -> None:
    command = claude_attention.hook_command("input", "Claude Code needs your input")
    result = subprocess.run(
        ["setsid", "sh", "-c", command],
        env={"PATH": os.environ["PATH"], "CODA_TERMINAL_PATH": "x"},
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=10,
    )
    assert result.returncode == 0 and result.stdout == b"" and result.stderr == b""
