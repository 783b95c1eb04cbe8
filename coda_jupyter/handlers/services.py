"""What handlers reach: the server's services, built and started by the app.

Handlers stay thin: they read the request, call one service and write JSON.
They never build a service and never see the app, so this package does not
import the app back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..agents import Catalogue
from ..agents.probe import AgentProber
from ..auth.credentials import CredentialManager
from ..gateway.service import GatewayService
from ..mcp import McpServer
from ..notebooks.service import NotebookService
from ..setup.service import SetupService
from ..tasks import TaskRunner
from ..terminals.agent_terminals import AgentTerminals
from ..terminals.uploads import UploadStore

SETTINGS_KEY = "coda_services"


@dataclass(frozen=True)
class Services:
    version: str
    apps_mode: bool
    # Setup logs and workspace-sync state.
    state_dir: Path
    catalogue: Catalogue
    prober: AgentProber
    terminals: AgentTerminals
    credentials: CredentialManager
    gateway: GatewayService
    setup: SetupService
    tasks: TaskRunner
    mcp: McpServer
    uploads: UploadStore
    notebooks: NotebookService


def services(settings: dict[str, Any]) -> Services:
    found: Services = settings[SETTINGS_KEY]
    return found
