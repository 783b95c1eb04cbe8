"""Notebook tools' back end: cells read, edited and run in the notebook's own kernel.

``notebook_service(settings)`` gives the server's one ``NotebookService``,
created on first use from Jupyter's contents, session and kernel managers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .service import NotebookService

SETTINGS_KEY = "coda_notebooks"


def notebook_service(settings: dict[str, Any]) -> NotebookService:
    service: NotebookService | None = settings.get(SETTINGS_KEY)
    if service is None:
        from .service import NotebookService

        contents = settings["contents_manager"]
        root = getattr(contents, "root_dir", None) or settings["server_root_dir"]
        service = NotebookService(contents, settings["session_manager"], settings["kernel_manager"], root)
        settings[SETTINGS_KEY] = service
    return service
