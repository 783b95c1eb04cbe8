"""How each agent runs one task non-interactively (background tasks over MCP).

Permission levels are an explicit choice of the caller, never implied:

``workspace``
    The agent may read and edit files under its working directory without
    asking; anything that would need an interactive approval is refused by the
    agent's own headless mode (nobody is there to answer).
``bypass``
    Every approval prompt and sandbox the agent has is switched off. Only for
    disposable environments.

An agent whose headless mode cannot honour a level leaves it out of
``permission_args``; asking for it is then a clear error instead of a silent
downgrade. Flags were taken from the CLIs' documentation (the CLIs were not
installed on the build machine when this was written); ``notes`` records the
caveats per agent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

PERMISSION_LEVELS: tuple[str, ...] = ("workspace", "bypass")
DEFAULT_PERMISSIONS = "workspace"


class HeadlessUnsupported(ValueError):
    """The agent's headless mode cannot run with the requested permissions."""


@dataclass(frozen=True)
class HeadlessSpec:
    """argv pieces around the agent's base argv for a one-shot, non-interactive run.

    The task itself never goes on the command line, where ``ps`` shows it to
    every local user and the kernel caps its size: the runner gives the agent
    its prompt file as stdin. The command is ``argv + subcommand + fixed_args
    + permission_args[level] + stdin_args`` for a CLI that reads its prompt
    from stdin. One that cannot (``stdin_args`` is None) gets ``pointer``, a
    short line naming the prompt file, as its prompt: ``(prompt_flag,
    pointer)``, or the last positional argument when ``prompt_flag`` is empty.
    """

    subcommand: tuple[str, ...] = ()
    stdin_args: tuple[str, ...] | None = None
    prompt_flag: str = ""
    fixed_args: tuple[str, ...] = ()
    permission_args: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {level: () for level in PERMISSION_LEVELS}
    )
    # True when the headless mode itself disables approvals whatever the flags.
    always_bypasses: bool = False
    notes: str = ""

    def bypassing_levels(self) -> tuple[str, ...]:
        """The permission levels under which approvals are bypassed."""
        if self.always_bypasses:
            return tuple(self.permission_args)
        return tuple(level for level in self.permission_args if level == "bypass")

    def command(self, argv: Sequence[str], pointer: str, permissions: str) -> list[str]:
        if permissions not in PERMISSION_LEVELS:
            raise HeadlessUnsupported(f"permissions must be one of {list(PERMISSION_LEVELS)}, not {permissions!r}")
        if permissions not in self.permission_args:
            supported = list(self.permission_args)
            reason = f" ({self.notes})" if self.notes else ""
            raise HeadlessUnsupported(
                f"this agent's headless mode cannot run with permissions={permissions!r}{reason}; "
                f"supported: {supported}"
            )
        if self.stdin_args is not None:
            prompt_part = list(self.stdin_args)
        else:
            prompt_part = [self.prompt_flag, pointer] if self.prompt_flag else [pointer]
        return [
            *argv,
            *self.subcommand,
            *self.fixed_args,
            *self.permission_args[permissions],
            *prompt_part,
        ]


# Agents added through configuration have no known headless flags: they get
# the task on stdin and a pointer to its file as their last argument, and are
# trusted to honour it.
GENERIC = HeadlessSpec(notes="configured agent: the task is on stdin, its file named in the last argument")
