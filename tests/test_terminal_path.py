"""Agents are on every terminal's PATH, whatever the login files do.

A login shell reads /etc/profile, which on Debian resets PATH and drops
~/.local/bin, where setup installs the agents. These tests type into real
terminals of a real server (in-process as root, and a subprocess as an
unprivileged user) and check that the agents and the user's own PATH additions
are both found.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import websocket_connect

from .browser.lab import Lab, prepare_dirs, running_lab
from .conftest import STUB_CLAUDE, TerminalReader, write_stub
from .terminal_io import read_until

SHELLS = ["bash", "sh", "zsh"]

# Each shell's login file and interactive rc file, as its user would write them.
LOGIN_FILE = {"bash": ".profile", "sh": ".profile", "zsh": ".zprofile"}
RC_FILE = {"bash": ".bashrc", "sh": ".shrc", "zsh": ".zshrc"}
# How the login file brings in the rc file (bash: Debian's skeleton ~/.profile).
LOGIN_READS_RC = {
    "bash": '[ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ] && . "$HOME/.bashrc"\n',
    "sh": 'ENV="$HOME/.shrc"; export ENV\n',
    "zsh": "",
}

# Typed into the terminal; the marker is computed so the echoed command cannot match it.
PROBE = 'claude --version; mytool; rctool; echo "[$PATH]-$((40+2))"\r'


def _shell(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return path


@pytest.fixture(params=SHELLS)
def shell(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], shell: str) -> dict[str, Any]:
    # A login shell, as Jupyter starts when the server has no terminal of its own
    # (every deployment); set explicitly so a tty running pytest changes nothing.
    server = {
        **jp_server_config["ServerApp"],
        "terminado_settings": {"shell_command": [_shell(shell), "-l"]},
    }
    return {**jp_server_config, "ServerApp": server}


def write_user_files(home: Path, shell: str) -> None:
    """A login file adding ~/mybin and an rc file adding ~/rcbin, each with a tool in it."""
    write_stub(home / "mybin", "mytool", "echo mytool-from-login-file")
    write_stub(home / "rcbin", "rctool", "echo rctool-from-rc-file")
    (home / LOGIN_FILE[shell]).write_text(
        'PATH="$HOME/mybin:$PATH"; export PATH\n' + LOGIN_READS_RC[shell],
        encoding="utf-8",
    )
    (home / RC_FILE[shell]).write_text('PATH="$HOME/rcbin:$PATH"; export PATH\n', encoding="utf-8")


def dotfiles(home: Path) -> dict[str, str]:
    """The user's start-up files and their contents: coda must never write to them."""
    return {path.name: path.read_text(encoding="utf-8") for path in home.glob(".*") if path.is_file()}


def path_of(output: str) -> list[str]:
    line = output[output.rindex("[", 0, output.rindex("]-42")) + 1 : output.rindex("]-42")]
    return line.split(":")


async def _plain_terminal(jp_fetch: Any) -> str:
    response = await jp_fetch("api", "terminals", method="POST", body="{}")
    return str(json.loads(response.body)["name"])


async def test_plain_terminal_finds_agents_without_a_profile(
    jp_fetch: Any,
    jp_home_dir: Path,
    user_bin: Path,
    read_terminal: TerminalReader,
    shell: str,
) -> None:
    write_stub(user_bin, "claude", STUB_CLAUDE)
    assert not any((jp_home_dir / name).exists() for name in (".profile", ".bash_profile", ".zprofile"))
    before = dotfiles(jp_home_dir)
    name = await _plain_terminal(jp_fetch)
    output = await read_terminal(name, until="]-42", send=PROBE)
    assert dotfiles(jp_home_dir) == before
    assert "9.9.9 (Claude Code)" in output, output
    path = path_of(output)
    assert path[0] == str(user_bin), path
    # What /etc/profile set is still there after ours.
    assert "/usr/bin" in path and "/bin" in path


async def test_plain_terminal_keeps_the_users_own_path_additions(
    jp_fetch: Any,
    jp_home_dir: Path,
    user_bin: Path,
    read_terminal: TerminalReader,
    shell: str,
) -> None:
    write_stub(user_bin, "claude", STUB_CLAUDE)
    write_user_files(jp_home_dir, shell)
    before = dotfiles(jp_home_dir)
    name = await _plain_terminal(jp_fetch)
    output = await read_terminal(name, until="]-42", send=PROBE)
    assert dotfiles(jp_home_dir) == before
    assert "9.9.9 (Claude Code)" in output, output
    assert "mytool-from-login-file" in output, output
    assert "rctool-from-rc-file" in output, output
    path = path_of(output)
    assert path[0] == str(user_bin), path
    assert {str(jp_home_dir / "mybin"), str(jp_home_dir / "rcbin")} <= set(path)


@pytest.mark.parametrize("shell", ["bash"], indirect=True)
async def test_agent_terminal_keeps_the_users_own_path_additions(
    jp_fetch: Any,
    jp_home_dir: Path,
    user_bin: Path,
    read_terminal: TerminalReader,
    shell: str,
) -> None:
    write_stub(user_bin, "claude", STUB_CLAUDE)
    write_user_files(jp_home_dir, shell)
    response = await jp_fetch("coda", "api", "agents", "claude", "terminals", method="POST", body="{}")
    name = json.loads(response.body)["name"]
    await read_terminal(name, until="nested=unset")
    output = await read_terminal(name, until="]-42", send=PROBE)
    assert "mytool-from-login-file" in output, output
    assert "rctool-from-rc-file" in output, output
    assert path_of(output)[0] == str(user_bin)


# -- an unprivileged user, in a server of its own ---------------------------------

UNPRIVILEGED = "nobody"


@pytest.fixture
def unprivileged_base() -> Iterator[Path]:
    """A directory the unprivileged user owns (pytest's own tmp dirs are root-only)."""
    if os.geteuid() != 0:
        pytest.skip("starting a server as another user needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is needed to start a server as another user")
    base = Path(tempfile.mkdtemp(prefix="coda-unprivileged-"))
    base.chmod(0o755)
    # The venv and the checkout may sit under a root-only folder (a clone in
    # `mktemp -d`): the other user may pass through, for this test only.
    opened = _let_others_through([Path(sys.prefix), Path(__file__).resolve().parents[1]])
    try:
        yield base
    finally:
        for folder, mode in opened:
            folder.chmod(mode)
        shutil.rmtree(base, ignore_errors=True)


def _let_others_through(paths: list[Path]) -> list[tuple[Path, int]]:
    """Add o+x to every ancestor of ``paths`` that lacks it; returns (folder, old mode) to restore."""
    opened: list[tuple[Path, int]] = []
    for path in paths:
        for folder in [path, *path.parents]:
            mode = stat.S_IMODE(folder.stat().st_mode)
            if not mode & stat.S_IXOTH and folder not in [f for f, _ in opened]:
                folder.chmod(mode | stat.S_IXOTH)
                opened.append((folder, mode))
    return opened


async def _type_and_read(lab: Lab, name: str, send: str, until: str, timeout: float = 20) -> str:
    url = lab.url.replace("http", "ws", 1) + f"terminals/websocket/{name}?token={lab.token}"
    return await read_until(await websocket_connect(url), until, send, timeout)


@pytest.mark.parametrize("login_shell", ["bash", "sh"])
def test_unprivileged_users_terminal_finds_agents(unprivileged_base: Path, login_shell: str) -> None:
    uid = int(subprocess.run(["id", "-u", UNPRIVILEGED], capture_output=True, text=True, check=True).stdout)
    gid = int(subprocess.run(["id", "-g", UNPRIVILEGED], capture_output=True, text=True, check=True).stdout)
    config = {"ServerApp": {"terminado_settings": {"shell_command": [_shell(login_shell), "-l"]}}}
    dirs = prepare_dirs(unprivileged_base, server_config=config)
    write_stub(dirs["home"] / ".local" / "bin", "claude", STUB_CLAUDE)
    for path in [unprivileged_base, *unprivileged_base.rglob("*")]:
        os.chown(path, uid, gid)
    program = [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={gid}",
        "--clear-groups",
        sys.executable,
        "-m",
        "jupyterlab",
    ]
    with running_lab(unprivileged_base, server_config=config, program=program) as lab:
        first = lab.api("api/terminals", "POST", b"{}")["name"]  # type: ignore[index]
        output = asyncio.run(_type_and_read(lab, first, "id -u; " + PROBE, "]-42"))
        assert f"{uid}\r\n" in output, output
        assert "9.9.9 (Claude Code)" in output, output
        assert path_of(output)[0] == str(lab.home / ".local" / "bin")

        write_user_files(lab.home, login_shell)
        for path in lab.home.rglob("*"):
            os.chown(path, uid, gid)
        second = lab.api("api/terminals", "POST", b"{}")["name"]  # type: ignore[index]
        output = asyncio.run(_type_and_read(lab, second, PROBE, "]-42"))
        assert "9.9.9 (Claude Code)" in output, output
        assert "mytool-from-login-file" in output, output
        assert "rctool-from-rc-file" in output, output
