"""Start the user's shell so that the terminal's PATH survives its start-up files.

A login shell reads /etc/profile, which on Debian resets PATH and drops
``~/.local/bin`` (where setup installs the agents); a user may have no
``~/.profile`` to add it back. Each supported shell is started through a small
start-up file shipped in ``startup/`` that runs the user's own start-up files
as the shell would, then puts the terminal's directories back in front
(``startup/path.sh``). Nothing is written into the user's dotfiles.
"""

from __future__ import annotations

import os
import pwd
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STARTUP_DIR = Path(__file__).with_name("startup")
PATH_SCRIPT = STARTUP_DIR / "path.sh"

# Shells that read $ENV when interactive; /bin/sh is one of them whatever it links to.
_POSIX_SHELLS = frozenset({"sh", "dash", "ash", "ksh", "ksh93", "mksh", "pdksh", "posh"})
_REFUSING_SHELLS = frozenset({"nologin", "false"})
_LOGIN_FLAGS = frozenset({"-l", "--login"})
# The only arguments recognised: a configured command with anything else is the
# operator's own choice and is left alone.
_KNOWN_FLAGS = _LOGIN_FLAGS | {"-i"}
# Where the start-up files find the user's own ENV and ZDOTDIR, which coda's replace.
_SAVED_AS = {"CODA_USER_ENV": "ENV", "CODA_USER_ZDOTDIR": "ZDOTDIR"}


@dataclass(frozen=True)
class ShellStart:
    """argv and extra environment for terminado; ``None`` in env removes a variable."""

    argv: list[str]
    env: dict[str, str | None] = field(default_factory=dict)


def shell_start(shell_command: Sequence[str], environ: Mapping[str, str] | None = None) -> ShellStart | None:
    """How to start ``shell_command`` (``[shell]`` or ``[shell, "-l"]``) interactively.

    ``None`` for a shell without a start-up file here (fish, tcsh, ...) or a
    command with other arguments: those run unchanged, with the PATH their own
    start-up files leave.
    """
    if not shell_command or not set(shell_command[1:]) <= _KNOWN_FLAGS:
        return None
    program = shell_command[0]
    login = any(arg in _LOGIN_FLAGS for arg in shell_command[1:])
    environ = os.environ if environ is None else environ
    name = os.path.basename(program).lstrip("-")
    marker: dict[str, str | None] = {"CODA_SHELL_LOGIN": "1" if login else None}
    if name == "bash":
        # Long options must come before the one-letter ones.
        return ShellStart([program, "--rcfile", str(STARTUP_DIR / "bashrc"), "-i"], marker)
    if name in _POSIX_SHELLS:
        return ShellStart(
            [program, "-i"],
            {
                **marker,
                "ENV": str(STARTUP_DIR / "shrc"),
                "CODA_USER_ENV": environ.get("ENV"),
            },
        )
    if name == "zsh":
        # zsh plays its own login: the flag is kept and ZDOTDIR does the rest.
        return ShellStart(
            [program, *(["-l"] if login else []), "-i"],
            {
                "ZDOTDIR": str(STARTUP_DIR / "zsh"),
                "CODA_USER_ZDOTDIR": environ.get("ZDOTDIR"),
            },
        )
    return None


def account_shell() -> str | None:
    """The login shell in this account's passwd entry, when it is a usable shell.

    ``None`` for an empty entry, a missing program, or one that refuses logins
    (nologin, false).
    """
    try:
        program = pwd.getpwuid(os.getuid()).pw_shell
    except KeyError:
        return None
    if not program or os.path.basename(program) in _REFUSING_SHELLS:
        return None
    return program if os.access(program, os.X_OK) else None


def exec_interactive(program: str) -> str:
    """Shell code that replaces the running shell by ``program``, interactive and not login.

    The user's ENV and ZDOTDIR are taken from the running shell (its login
    files may have set them), as the new shell would inherit them.
    """
    start = shell_start([program], environ={})
    if start is None:
        return f"exec {shlex.join([program, '-i'])}"
    lines = [
        f'if [ -n "${{{original}+set}}" ]; then export {saved}="${original}"; else unset {saved}; fi'
        for saved, original in _SAVED_AS.items()
        if saved in start.env
    ]
    changes = {name: value for name, value in start.env.items() if name not in _SAVED_AS}
    unset = [arg for name, value in changes.items() if value is None for arg in ("-u", name)]
    assigned = [f"{name}={value}" for name, value in changes.items() if value is not None]
    lines.append(f"exec {shlex.join(['env', *unset, *assigned, *start.argv])}")
    return "\n".join(lines)
