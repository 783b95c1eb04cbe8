"""Agent terminals: the one way an agent gets a Jupyter terminal, interactive or headless.

The launcher's ``POST coda/api/agents/<id>/terminals`` and the background task
runner both come here, so both get the same working-directory rule, the same
admission check and the same environment. ``environment()`` is also what
``CodaTerminalManager`` applies to plain terminals, so an agent typed into a
plain shell sees what a launched one sees.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado import web
from traitlets import List, Unicode
from traitlets.config import LoggingConfigurable

from ..agents import AgentSpec, Catalogue, overlay
from ..auth.credentials import CredentialManager
from ..auth.identity import server_access_env, service_principal_removals
from ..auth.metadata import MetadataService, sdk_auth_env
from ..sync.hooks import terminal_git_env
from ..util.paths import unusable_path_reason
from .admission import AgentAdmission
from .environment import terminal_env_changes, terminal_path
from .launch import agent_shell_command

# Where CodaTerminalManager finds the service: the terminals extension builds
# the manager after ours is initialized, so it cannot be handed over directly.
SETTINGS_KEY = "coda_agent_terminals"


def jupyter_terminal_manager(server: Any) -> Any:
    """The server's terminal manager; 503 while the terminals extension has not made one."""
    manager = server.web_app.settings.get("terminal_manager")
    if manager is None:
        raise web.HTTPError(503, "terminals are not available on this server")
    return manager


class CwdRefused(web.HTTPError):
    """A working directory that is not a folder inside the server root (400; ``message`` says why)."""

    def __init__(self, message: str):
        # Jupyter's API handlers send log_message to the client as the JSON "message".
        super().__init__(400, message)
        self.message = message


@dataclass(frozen=True)
class Launch:
    """One agent terminal to start.

    ``argv`` None runs the agent in a login shell and then leaves a shell
    (the launcher's tabs); a task gives its own headless command. ``name``
    None picks the next free ``<agent>_<n>``.
    """

    spec: AgentSpec
    cwd: str
    name: str | None = None
    argv: Sequence[str] | None = None
    env: Mapping[str, str | None] = field(default_factory=dict)
    # Shown in an admission refusal: "Cannot start <what>: ...".
    what: str | None = None
    # Running tasks are counted by the task runner; only launcher tabs are tracked here.
    track: bool = True


class AgentTerminals(LoggingConfigurable):
    """Starts agents in named Jupyter terminals and computes every terminal's environment."""

    extra_path = List(
        Unicode(),
        help="Directories put on the terminal PATH after ~/.local/bin, before the server's PATH.",
    ).tag(config=True)

    stripped_env = List(
        Unicode(),
        help="Extra environment variables removed from every terminal (agent or plain).",
    ).tag(config=True)

    def __init__(
        self,
        *,
        server: Any,
        catalogue: Catalogue,
        admission: AgentAdmission,
        credentials: CredentialManager,
        token_service: MetadataService | None,
        apps_mode: bool,
        overlay_home: Path | None,
        **kwargs: Any,
    ):
        """``server`` is the ServerApp: its root, its URL and, once made, its terminal manager."""
        super().__init__(**kwargs)
        self.server = server
        self.catalogue = catalogue
        self.admission = admission
        self.credentials = credentials
        self.token_service = token_service
        self.apps_mode = apps_mode
        self.overlay_home = overlay_home

    @property
    def root_dir(self) -> str:
        return os.path.realpath(os.path.expanduser(str(self.server.root_dir)))

    def terminal_manager(self) -> Any:
        return jupyter_terminal_manager(self.server)

    def path(self) -> str:
        """PATH of every terminal: ~/.local/bin and extra_path first."""
        return terminal_path(self.extra_path)

    def environment(self) -> dict[str, str | None]:
        """Environment changes for every terminal; ``None`` removes a variable."""
        return {
            **terminal_env_changes(self.extra_path, self.stripped_env),
            **service_principal_removals(self.apps_mode),
            **sdk_auth_env(self.token_service, self.credentials.status()["host"]),
            # What local processes (agents, coda-bridge) need to call this server.
            **server_access_env(self.server),
            # Locally (with an overlay) the sync hook reaches git through the terminal, not ~/.gitconfig.
            **({} if self.overlay_home is None else terminal_git_env()),
            # Each agent reads its configs from the overlay, so the user's own stay as they are.
            **({} if self.overlay_home is None else overlay.terminal_variables(self.catalogue, self.overlay_home)),
        }

    def resolve_cwd(self, cwd: object) -> str:
        """The folder ``cwd`` names: relative to the server root, or absolute inside it.

        Symlinks are resolved first, so no link leads out of the root.
        """
        text = "" if cwd is None else cwd
        if not isinstance(text, str):
            raise CwdRefused("cwd must be a string: a path relative to the server root, or absolute inside it")
        text = text.strip()
        problem = unusable_path_reason(text)
        if problem is not None:
            raise CwdRefused(f"cwd {problem}")
        root = self.root_dir
        target = os.path.realpath(os.path.join(root, text))
        if os.path.commonpath([root, target]) != root:
            raise CwdRefused(f"cwd {text!r} is outside the server root {root}")
        if not os.path.isdir(target):
            raise CwdRefused(f"cwd {text!r} is not a directory")
        return target

    def launch(self, launch: Launch) -> str:
        """Start the terminal; returns its name.

        Raises ``AdmissionRefused`` (429/503) when no new agent session may start.
        """
        spec = launch.spec
        manager = self.terminal_manager()
        self.admission.admit(launch.what or spec.label)
        name = launch.name or next(
            candidate
            for candidate in (f"{spec.id}_{n}" for n in itertools.count(1))
            if candidate not in manager.terminals
        )
        if name in manager.terminals:
            raise ValueError(f"terminal {name!r} already exists")
        argv = list(launch.argv) if launch.argv is not None else agent_shell_command(spec, self._shell(manager))
        env = {**self.environment(), "CODA_AGENT": spec.id, "CODA_TERMINAL_PATH": self.path(), **launch.env}
        manager.create(name=name, cwd=launch.cwd, shell_command=argv, extra_env=env)
        if launch.track:
            self.admission.track(name)
        self.log.info("coda-jupyter: started %s in terminal %s", spec.label, name)
        return name

    @staticmethod
    def _shell(manager: Any) -> list[str]:
        server_shell = getattr(manager, "server_shell", None)
        return list(server_shell() if server_shell is not None else manager.shell_command)
