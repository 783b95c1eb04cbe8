"""Config writers: one module per agent plus the shared ones.

Each module exposes ``write(ctx) -> list[Path]`` (it returns the files it
changed) and a ``WRITER`` naming it.  Agent writers are reached through
``AgentSpec.config_writer``; the shared writers below are not tied to an
agent and are run by the setup engine directly.
"""

from ..models import Models
from . import git, guidance, skills
from .context import (
    DEFAULT_MCP_SERVERS,
    ConfigContext,
    ConfigWriter,
    MlflowSettings,
    RemoteMcpServer,
)
from .merge import ConfigFileError

# ~/.databrickscfg is not among them: the credential manager owns that file.
# A writer for one agent only (tracing) is on its ``AgentSpec.config_steps``.
SHARED_WRITERS: tuple[ConfigWriter, ...] = (git.WRITER, skills.WRITER)

__all__ = [
    "DEFAULT_MCP_SERVERS",
    "SHARED_WRITERS",
    "guidance",
    "ConfigContext",
    "ConfigFileError",
    "ConfigWriter",
    "RemoteMcpServer",
    "MlflowSettings",
    "Models",
]
