"""Claude Code starts in the workspace without asking whether to trust it.

The real CLI (pinned, from ``tests/clis.py``) runs in a pseudo-terminal, as in
a Jupyter terminal, with the coda-written config and a fake model upstream.
What it shows is read off the screen: the dialog's own sentence ("Quick safety
check: Is this a project you created or one you trust?", from the CLI's trust
dialog) must never appear, its main prompt's "? for shortcuts" line must, and
a question typed there must reach the fake model.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import termios
from collections.abc import Callable
from pathlib import Path

import pytest

from coda_jupyter.agents.writers import ConfigContext, claude
from tests.clis import InstalledCli, RealClis, clean_env, real_clis
from tests.fakes.model_upstream import FakeModelUpstream

from .helpers import direct_endpoints, mode

__all__ = ["real_clis"]  # the session fixture, imported so pytest finds it here

TRUST_DIALOG = "Quick safety check: Is this a project you created or one you trust?"
MAIN_PROMPT = "? for shortcuts"
QUESTION = "Say hello to the workspace"
# Control sequences: CSI, OSC (ended by BEL or ST), and two-byte escapes.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[@-_]")


# A new entry is the one Claude Code writes when the dialog is accepted.
TRUSTED = {**claude.NEW_PROJECT, "hasTrustDialogAccepted": True}


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def test_workspace_and_home_are_trusted_and_everything_else_kept(
    make_ctx: Callable[..., ConfigContext], home: Path, tmp_path: Path
) -> None:
    workspace = tmp_path / "work"
    (home / ".claude.json").write_text(
        json.dumps(
            {
                "userID": "abc",
                "theme": "dark",
                "projects": {
                    "/elsewhere": {"allowedTools": ["Bash(ls)"], "hasTrustDialogAccepted": False},
                    str(workspace): {"allowedTools": ["Edit"], "projectOnboardingSeenCount": 3},
                },
            }
        )
    )
    (home / ".claude.json").chmod(0o600)
    assert home / ".claude.json" in claude.write(make_ctx(workspace_dir=workspace))
    state = read(home / ".claude.json")
    assert state["userID"] == "abc" and state["theme"] == "dark"
    assert state["projects"] == {
        "/elsewhere": {"allowedTools": ["Bash(ls)"], "hasTrustDialogAccepted": False},
        str(workspace): {"allowedTools": ["Edit"], "projectOnboardingSeenCount": 3, "hasTrustDialogAccepted": True},
        str(home): TRUSTED,
    }
    assert mode(home / ".claude.json") == 0o600
    assert claude.write(make_ctx(workspace_dir=workspace)) == []


def test_default_workspace_is_home_projects(local_ctx: ConfigContext, home: Path) -> None:
    claude.write(local_ctx)
    projects = read(home / ".claude.json")["projects"]
    assert projects == {str(home / "projects"): TRUSTED, str(home): TRUSTED}


def test_a_symlinked_workspace_is_trusted_under_its_real_path_too(
    make_ctx: Callable[..., ConfigContext], home: Path, tmp_path: Path
) -> None:
    real = tmp_path / "volume" / "projects"
    real.mkdir(parents=True)
    (home / "projects").symlink_to(real)
    claude.write(make_ctx())
    projects = read(home / ".claude.json")["projects"]
    assert projects[str(home / "projects")] == projects[str(real)] == TRUSTED


def test_the_state_file_is_written_through_its_symlink(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    target = home / "dotfiles" / "claude.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"userID": "abc"}))
    (home / ".claude.json").symlink_to(target)
    claude.write(make_ctx())
    assert (home / ".claude.json").is_symlink()
    state = read(target)
    assert state["userID"] == "abc" and state["projects"][str(home)] == TRUSTED


def test_the_filesystem_root_is_never_trusted(make_ctx: Callable[..., ConfigContext], home: Path) -> None:
    claude.write(make_ctx(workspace_dir=Path("/")))
    assert set(read(home / ".claude.json")["projects"]) == {str(home)}


# ------------------------------------------------------------ the real CLI


class Screen:
    """A process on a pseudo-terminal, and the text it has drawn (escapes removed)."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.process = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
        )
        os.close(slave)
        os.set_blocking(self.master, False)
        self.raw = b""

    @property
    def text(self) -> str:
        return _ESCAPES.sub(" ", self.raw.decode("utf-8", "replace"))

    def shows(self, wanted: str) -> bool:
        # A TUI moves the cursor instead of printing spaces: compare without them.
        return "".join(wanted.split()) in "".join(self.text.split())

    async def wait_for(self, *wanted: str, timeout: float = 90) -> str:
        """The first of ``wanted`` on screen; fails when none appears in time."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            shown = [text for text in wanted if self.shows(text)]
            if shown:
                return shown[0]
            if asyncio.get_running_loop().time() > deadline or self.process.poll() is not None:
                raise AssertionError(f"none of {wanted!r} appeared; the screen said:\n{self.text[-3000:]}")
            try:
                self.raw += os.read(self.master, 65536)
            except BlockingIOError:
                await asyncio.sleep(0.1)
            except OSError:  # EIO: the process closed its terminal
                await asyncio.sleep(0.1)

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        os.close(self.master)


async def wait_for_question(fake: FakeModelUpstream, screen: Screen, timeout: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not any(QUESTION.encode() in request.body for request in fake.requests):
        if asyncio.get_running_loop().time() > deadline or screen.process.poll() is not None:
            raise AssertionError(f"the model never got {QUESTION!r}; the screen said:\n{screen.text[-3000:]}")
        await asyncio.sleep(0.1)


def terminal_env(home: Path, cli: InstalledCli) -> dict[str, str]:
    # A terminal, as a Jupyter terminal has; otherwise the CLI's quiet settings.
    return clean_env(home, cli, {"TERM": "xterm-256color"})


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.asyncio
@pytest.mark.parametrize("folder", ["projects", "projects/demo"])
async def test_real_claude_code_opens_the_workspace_without_the_trust_dialog(
    tmp_path: Path, real_clis: RealClis, folder: str
) -> None:
    """``projects/demo`` is a git repository of its own: trust of the workspace covers it."""
    cli = real_clis.require("claude")
    fake = FakeModelUpstream()
    await fake.start()
    home = tmp_path / "home"
    cwd = home / folder
    cwd.mkdir(parents=True)
    if folder != "projects":
        subprocess.run(["git", "init", "-q", str(cwd)], check=True)
    # No remote MCP servers: nothing here may reach the network.
    ctx = ConfigContext(
        home=home, endpoints=direct_endpoints(gateway=fake.url, host=None), api_key="coda-trust-key", mcp_servers=()
    )
    claude.write(ctx)
    screen = Screen([str(cli.executable)], terminal_env(home, cli), cwd)
    try:
        assert await screen.wait_for(TRUST_DIALOG, MAIN_PROMPT) == MAIN_PROMPT, screen.text[-3000:]
        screen.type(QUESTION)
        await asyncio.sleep(0.5)
        screen.type("\r")
        # The question reached the model from the main prompt. (The answer's
        # text is redrawn in pieces, so the screen is no place to look for it.)
        await wait_for_question(fake, screen)
        assert not screen.shows(TRUST_DIALOG), screen.text[-3000:]
    finally:
        screen.close()
        await fake.stop()
