"""Shell command that runs an agent in a login shell and then leaves a shell."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from ..agents import AgentSpec
from .shells import PATH_SCRIPT, exec_interactive

# A login shell re-reads /etc/profile, which on Debian resets PATH; path.sh
# puts the terminal's directories back in front and keeps what the user's
# login files added.
_RESTORE_PATH = f". {shlex.quote(str(PATH_SCRIPT))}"


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
    script = "\n".join(
        [
            _RESTORE_PATH,
            f"if command -v {exe} >/dev/null 2>&1; then",
            f"  {agent}",
            "else",
            f"  printf '\\033[33m%b\\033[0m' {shlex.quote(missing)}",
            "fi",
            # Interactive, not login: a second login would reset PATH again.
            exec_interactive(shell[0] if shell else "bash"),
        ]
    )
    return ["bash", "-l", "-c", script]
