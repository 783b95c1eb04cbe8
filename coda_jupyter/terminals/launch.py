"""Shell command that runs an agent in a login shell and then leaves a shell."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..agents import AgentSpec

# A login shell re-reads /etc/profile, which on Debian resets PATH; the
# wrapper puts the terminal PATH back afterwards so ~/.local/bin wins.
_RESTORE_PATH = 'export PATH="$CODA_TERMINAL_PATH"'


def agent_shell_command(spec: AgentSpec, shell: Sequence[str]) -> list[str]:
    """argv for terminado: ``bash -l -c <script>``.

    The script runs the agent when it is installed, otherwise explains how it
    will be installed; either way it then ``exec``s an interactive shell in the
    same directory so the tab stays useful and the agent can be relaunched.
    """
    agent = shlex.join(spec.argv)
    exe = shlex.quote(spec.executable)
    missing = (
        f"{spec.label} is not installed: '{spec.executable}' was not found on PATH.\\n"
        f"It will be installed from the {spec.install_hint or 'agent catalogue'}.\\n"
        f"Watch the Agents panel, then run '{shlex.join(spec.argv)}' here.\\n"
    )
    interactive = shlex.join(_interactive(shell))
    script = "\n".join(
        [
            _RESTORE_PATH,
            f"if command -v {exe} >/dev/null 2>&1; then",
            f"  {agent}",
            "else",
            f"  printf '\\033[33m%b\\033[0m' {shlex.quote(missing)}",
            "fi",
            f"exec {interactive}",
        ]
    )
    return ["bash", "-l", "-c", script]


def _interactive(shell: Sequence[str]) -> list[str]:
    """The server's terminal shell, made interactive instead of login.

    A second login shell would reset PATH again; an interactive one inherits
    the environment prepared above and still reads the user's rc file.
    """
    program = shell[0] if shell else "bash"
    return [program, "-i"]
