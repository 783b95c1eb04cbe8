"""Claude Code hooks that tell JupyterLab when Claude needs the user or is done.

Claude Code runs a ``Notification`` hook when it waits for the user (a
permission prompt, or idle input) and a ``Stop`` hook when it has finished its
answer. Each hook command here prints coda's OSC 777 sequence
(``ESC ] 777 ; coda-attention ; <kind> ; <message> BEL``) to the terminal
Claude runs in, ``/dev/tty``: hook commands have their stdout captured by
Claude, but they inherit its controlling terminal. The lab extension reads the
sequence in that terminal (``labextension/src/attention/osc.ts``) and shows a
notification, a tab badge and the task state.

Why the terminal and not an HTTP call to the server: the terminal already
identifies which tab to badge; a POST would need the terminal's name, the
server URL and the token inside the hook, and a new route.

Only in Jupyter terminals: the commands do nothing unless
``CODA_TERMINAL_PATH`` is set, which every terminal of this server has
(``terminals/environment.py``); Claude Code started anywhere else (another
terminal emulator, over ssh) prints nothing. Without a terminal (``/dev/tty``
cannot be opened) they print nothing either, and they always exit 0 so Claude
never reports a hook error.
"""

from __future__ import annotations

from typing import Any

from .merge import child

MARKER = "coda-attention"

# Hook event -> (kind the lab extension shows, message).
EVENTS: dict[str, tuple[str, str]] = {
    "Notification": ("input", "Claude Code needs your input"),
    "Stop": ("done", "Claude Code finished its answer"),
}


def hook_command(kind: str, message: str) -> str:
    """A POSIX ``sh`` command line (Claude Code runs hook commands with a shell)."""
    sequence = f"\\033]777;{MARKER};{kind};{message}\\007"
    return f"[ -n \"${{CODA_TERMINAL_PATH:-}}\" ] && {{ printf '{sequence}' >/dev/tty; }} 2>/dev/null; exit 0"


def _is_ours(hook: Any) -> bool:
    command = hook.get("command") if isinstance(hook, dict) else None
    return isinstance(command, str) and MARKER in command


def _has(groups: Any, command: str) -> bool:
    return isinstance(groups, list) and any(
        isinstance(group, dict)
        and isinstance(group.get("hooks"), list)
        and any(isinstance(hook, dict) and hook.get("command") == command for hook in group["hooks"])
        for group in groups
    )


def merge_hooks(settings: dict[str, Any]) -> None:
    """Add our hook under each event; the user's hooks and other writers' (MLflow's Stop hook) stay.

    A current hook of ours is left where it is: MLflow's writer moves its own
    Stop hook to the end on every run, and two writers that both insist on the
    last place would rewrite the file on every setup.
    """
    hooks = child(settings, "hooks")
    for event, (kind, message) in EVENTS.items():
        groups = hooks.get(event)
        command = hook_command(kind, message)
        if _has(groups, command):
            continue
        kept: list[Any] = []
        for group in groups if isinstance(groups, list) else []:
            if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
                kept.append(group)
                continue
            others = [hook for hook in group["hooks"] if not _is_ours(hook)]
            if others:
                kept.append({**group, "hooks": others})
        hooks[event] = [*kept, {"hooks": [{"type": "command", "command": command}]}]
