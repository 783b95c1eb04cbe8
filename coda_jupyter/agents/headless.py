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

    The command is ``argv + subcommand + fixed_args + permission_args[level]
    + (prompt_flag, prompt)``, or the prompt as the last positional argument
    when ``prompt_flag`` is empty.
    """

    subcommand: tuple[str, ...] = ()
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

    def command(self, argv: Sequence[str], prompt: str, permissions: str) -> list[str]:
        if permissions not in PERMISSION_LEVELS:
            raise HeadlessUnsupported(
                f"permissions must be one of {list(PERMISSION_LEVELS)}, not {permissions!r}"
            )
        if permissions not in self.permission_args:
            supported = list(self.permission_args)
            reason = f" ({self.notes})" if self.notes else ""
            raise HeadlessUnsupported(
                f"this agent's headless mode cannot run with permissions={permissions!r}{reason}; "
                f"supported: {supported}"
            )
        prompt_part = [self.prompt_flag, prompt] if self.prompt_flag else [prompt]
        return [
            *argv,
            *self.subcommand,
            *self.fixed_args,
            *self.permission_args[permissions],
            *prompt_part,
        ]


# Agents added through configuration have no known headless flags: they get
# the prompt as their last argument and are trusted to honour it.
GENERIC = HeadlessSpec(notes="configured agent: the prompt is passed as the last argument")
