"""A live Jupyter Server with coda-jupyter's MCP endpoint, real kernels and notebooks on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from ..mcp.conftest import call, jp_server_config, mcp_session, mcp_url, stub_agent

__all__ = ["call", "jp_server_config", "mcp_session", "mcp_url", "stub_agent", "write_notebook"]


def write_notebook(path: Path, sources: list[str]) -> Path:
    """A notebook as JupyterLab saves one: nbformat 4.5 with cell ids and the python3 kernelspec."""
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def on_disk(path: Path) -> Any:
    return nbformat.read(str(path), as_version=4)


@pytest.fixture
def root(jp_root_dir: Path) -> Path:
    return Path(jp_root_dir)
