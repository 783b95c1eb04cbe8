"""Workspace sync: ``~/projects/<name>`` to ``/Workspace/Users/{email}/projects/<name>``.

``sync_status()`` feeds the Agents panel; ``install_hooks()`` (or
``hooks.WRITER`` in the setup engine) makes every commit sync in the
background; ``coda-sync`` (``cli.main``) re-syncs by hand.
"""

from .hooks import WRITER, HookInstall, install_hooks
from .workspace import NotARepository, OutsideProjects, SyncError, SyncResult, sync_repo, sync_status

__all__ = [
    "WRITER",
    "HookInstall",
    "NotARepository",
    "OutsideProjects",
    "SyncError",
    "SyncResult",
    "install_hooks",
    "sync_repo",
    "sync_status",
]
