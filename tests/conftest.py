"""Shared fixtures: a real Jupyter Server with coda-jupyter, stub agents on PATH."""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.terminal_io import read_until

pytest_plugins = ("pytest_jupyter.jupyter_server",)

# Variables that would make tests talk to a real workspace or a real model.
_AMBIENT = ("DATABRICKS_", "ANTHROPIC_", "OPENAI_", "GEMINI_", "CLAUDECODE", "CLAUDE_CODE_")


@pytest.fixture(autouse=True)
def _clean_ambient_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(_AMBIENT):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))


def write_stub(bin_dir: Path, name: str, body: str) -> Path:
    """Create an executable shell script standing in for an agent CLI."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


STUB_CLAUDE = """if [ "$1" = "--version" ]; then echo "9.9.9 (Claude Code)"; exit 0; fi
echo "stub-claude says hello from $(pwd)"
echo "stub-claude nested=${CLAUDECODE:-unset}"
"""


@pytest.fixture
def jp_server_config(jp_server_config: Any) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"coda_jupyter": True, "jupyter_server_terminals": True},
            "allow_unauthenticated_access": False,
        },
        "CodaApp": {"agents": {"stubby": {"executable": "stubby-agent", "label": "Stubby"}}},
        # Real installs are tested on their own (tests/setup); here they would
        # only slow every server start down.
        "SetupService": {"builtin": False},
    }


@pytest.fixture
def user_bin(jp_home_dir: Path) -> Path:
    path = Path(jp_home_dir) / ".local" / "bin"
    path.mkdir(parents=True, exist_ok=True)
    return path


TerminalReader = Callable[..., Awaitable[str]]


@pytest.fixture
def read_terminal(jp_ws_fetch: Any) -> TerminalReader:
    """Connect to a terminal websocket and read until ``until`` appears.

    Sends ``send`` first when given. Returns everything read so far; fails the
    test with the collected output when the text does not appear in time.
    """

    async def read(name: str, until: str, send: str | None = None, timeout: float = 20) -> str:
        return await read_until(await jp_ws_fetch("terminals", "websocket", name), until, send, timeout)

    return read
