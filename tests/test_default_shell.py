"""With no $SHELL and no configured command, a terminal runs the account's login shell.

Servers started by a service manager, a container entry point or a spawner
often have no $SHELL. Stock Jupyter then falls back to ``sh`` (dash on Debian:
no history, no completion, no line editing). ``login`` and ``sshd`` use the
shell in the user's passwd entry; so do coda terminals.
"""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.terminals.shells import account_shell

from .conftest import TerminalReader


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.delenv("SHELL", raising=False)
    return jp_server_config


def test_account_shell_reads_the_passwd_entry() -> None:
    entry = pwd.getpwuid(os.getuid()).pw_shell
    assert account_shell() == entry


@pytest.mark.parametrize("entry", ["", "/usr/sbin/nologin", "/bin/false", "/no/such/shell"])
def test_account_shell_ignores_unusable_entries(monkeypatch: pytest.MonkeyPatch, entry: str) -> None:
    real = pwd.getpwuid(os.getuid())
    fake = pwd.struct_passwd((*real[:6], entry))
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: fake)
    assert account_shell() is None


async def test_terminal_without_shell_variable_runs_the_login_shell(
    jp_fetch: Any, jp_home_dir: Path, read_terminal: TerminalReader
) -> None:
    entry = pwd.getpwuid(os.getuid()).pw_shell
    if os.path.basename(entry) != "bash":
        pytest.skip(f"this account's shell is {entry!r}; the check types bash syntax")
    response = await jp_fetch("api", "terminals", method="POST", body="{}")
    name = json.loads(response.body)["name"]
    output = await read_terminal(name, until="]-42", send='echo "[${BASH_VERSION:+bash}]-$((40+2))"\r')
    assert "[bash]-42" in output, output
