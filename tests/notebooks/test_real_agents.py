"""Real agent CLIs use the notebook tools end to end, on a real kernel.

The chain is the one a user's agent runs in a Jupyter terminal: the pinned
CLI, configured only by coda's writers, offers coda's notebook tools to the
fake model; the fake model asks for an insert and then an execute, as a
model would; the CLI runs both against a live Jupyter Server, whose kernel
computes the answer; the result goes back to the model. With no browser
open, the tools work on the file, so the notebook on disk shows the cell and
its output afterwards.

Claude Code (Anthropic Messages) and Codex (OpenAI Responses, through
``coda-bridge``) cover the two wire formats and both ways of reaching the
endpoint; ``tests/writers/test_coda_mcp_real_clis.py`` shows every CLI
reaches the tools at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.clis import RealClis, real_clis
from tests.writers.test_coda_mcp_real_clis import model_requests, rig_for, run_headless

from .conftest import on_disk, write_notebook

__all__ = ["real_clis"]  # the session fixture, imported so pytest finds it here

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

SOURCE = "answer = 6 * 7\nprint(f'the answer is {answer}')"


@pytest.mark.parametrize("agent_id", ["claude", "codex"])
async def test_agent_inserts_and_runs_a_cell_in_the_notebooks_kernel(
    tmp_path: Path,
    jp_serverapp: Any,
    jp_root_dir: Path,
    http_server_client: Any,
    jp_http_port: int,
    jp_base_url: str,
    real_clis: RealClis,
    agent_id: str,
) -> None:
    cli = real_clis.require(agent_id)
    notebook = write_notebook(Path(jp_root_dir) / "analysis" / "demo.ipynb", ["x = 1"])
    async with rig_for(tmp_path, jp_serverapp, jp_http_port, jp_base_url) as rig:
        rig.fake.tool_script = [
            ("coda_notebook_insert_cell", {"path": "analysis/demo.ipynb", "index": 1, "source": SOURCE}),
            ("coda_notebook_execute", {"path": "analysis/demo.ipynb", "index": 1}),
        ]
        ran = await run_headless(rig, cli)
        sent = model_requests(rig.fake)
    context = f"{ran.describe()}\n--- server saw ---\n{rig.seen}\n--- model requests ---\n{sent[-4000:]}"

    assert rig.seen.tools_called == ["coda_notebook_insert_cell", "coda_notebook_execute"], context
    # The kernel's output went back to the model as the execute call's result.
    assert "the answer is 42" in sent, context
    nb = on_disk(notebook)
    assert [cell.source for cell in nb.cells] == ["x = 1", SOURCE]
    assert "the answer is 42" in nb.cells[1].outputs[0]["text"]
