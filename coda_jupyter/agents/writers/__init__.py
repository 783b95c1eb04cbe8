"""Config writers: one module per agent plus the shared ones.

Each module exposes ``write(ctx) -> list[Path]`` and
``update_token(ctx) -> list[Path]`` (both return the files they changed) and
a ``WRITER`` bundling the two.  Agent writers are reached through
``AgentSpec.config_writer``; the shared writers below are not tied to an
agent and are run by the setup engine directly.
"""

from . import git, guidance, mlflow, skills
from .context import (
    DEFAULT_MCP_SERVERS,
    ConfigContext,
    ConfigWriter,
    MlflowSettings,
    Models,
    RemoteMcpServer,
)
from .merge import ConfigFileError

# ~/.databrickscfg is not among them: the credential manager owns that file.
SHARED_WRITERS: tuple[ConfigWriter, ...] = (git.WRITER, skills.WRITER, mlflow.WRITER)

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
