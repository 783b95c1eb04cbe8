"""An agent's notebook-tool calls show up live in the notebook the user has open, in Chromium."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import nbformat
import pytest

from ..waiting import eventually
from .conftest import lab_fixture
from .lab import Lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from lab_fixture(tmp_path_factory, "notebook-tools")


async def _calls(lab: Lab, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Tool calls in order through the official MCP client, as an agent makes them."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    results = []
    headers = {"Authorization": f"token {lab.token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(lab.url + "api/coda/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        for name, arguments in calls:
            reply = await session.call_tool(name, arguments)
            results.append({"error": reply.content[0].text} if reply.is_error else reply.structured_content)
    return results


def agent(lab: Lab, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
    # Playwright's sync API owns this thread's event loop: the client runs in another thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _calls(lab, list(calls))).result(timeout=120)


def test_agent_inserts_and_runs_a_cell_in_the_open_notebook(page: Any, lab: Lab) -> None:
    notebook = lab.root / "live.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 41")]
    nbformat.write(nb, str(notebook))

    page.goto(lab.page_url("lab/tree/live.ipynb?reset"))
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    cells.first.wait_for()
    # The status bar names the kernel once the notebook is connected to it.
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for()
    # The user runs the first cell (Ctrl+Enter: no new cell below).
    cells.first.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    cells.first.locator(".jp-InputPrompt", has_text="[1]").wait_for()
    page.evaluate("window.codaNoReload = 'still here'")

    def relayed() -> bool:
        [listed] = agent(lab, ("coda_notebook_list", {}))
        return any(entry["path"] == "live.ipynb" and entry["in_browser"] for entry in listed["open"])

    eventually(relayed, "the open notebook reported by the page", timeout=30)
    inserted, ran = _insert_then_run(lab)
    assert inserted["index"] == 1
    assert ran["status"] == "ok" and ran["cells"][0]["outputs"] == ["42\n"]
    assert ran["cells"][0]["execution_count"] == 2  # the user's kernel: its second execution

    second = cells.nth(1)
    second.locator(".jp-OutputArea-output", has_text="42").wait_for()
    assert second.locator(".jp-InputArea-editor").inner_text().strip() == "print(x + 1)"
    assert page.evaluate("window.codaNoReload") == "still here"
    assert page.locator(".jp-Dialog").count() == 0

    def saved_by_the_page() -> bool:
        cells_on_disk = nbformat.read(str(notebook), as_version=4).cells
        return len(cells_on_disk) == 2 and (cells_on_disk[1].get("outputs") or [{}])[0].get("text") == "42\n"

    eventually(saved_by_the_page, "the page saving the notebook", timeout=30)
    # Saving left the editor clean: no "file changed on disk" question on the next save.
    page.keyboard.press("Control+s")
    page.locator(".jp-NotebookPanel .jp-mod-dirty").wait_for(state="detached")
    assert page.locator(".jp-Dialog").count() == 0


def _insert_then_run(lab: Lab) -> tuple[dict[str, Any], dict[str, Any]]:
    [inserted] = agent(
        lab, ("coda_notebook_insert_cell", {"path": "live.ipynb", "index": -1, "source": "print(x + 1)"})
    )
    assert "error" not in inserted, inserted
    [ran] = agent(lab, ("coda_notebook_execute", {"path": "live.ipynb", "cell_id": inserted["cell_id"]}))
    return inserted, ran


def test_a_burst_of_agent_edits_is_saved_once_and_lands_on_disk(page: Any, lab: Lab) -> None:
    """The page replies to each edit at once and saves after the burst, not once per edit.

    A save is JupyterLab's ``PUT api/contents/<path>`` from the page; each one
    also costs the server a write and a validation while the agent's next
    command waits. The edits are sent together (one MCP session, concurrent
    requests, as an agent's parallel tool calls are), so the burst is one
    whatever the machine's speed.
    """
    notebook = lab.root / "burst.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, str(notebook))
    saves: list[str] = []
    page.on("request", lambda r: saves.append(r.url) if r.method == "PUT" and "/burst.ipynb" in r.url else None)

    page.goto(lab.page_url("lab/tree/burst.ipynb?reset"))
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()

    def relayed() -> bool:
        [listed] = agent(lab, ("coda_notebook_list", {}))
        return any(entry["path"] == "burst.ipynb" and entry["in_browser"] for entry in listed["open"])

    eventually(relayed, "the open notebook reported by the page", timeout=30)
    page.wait_for_timeout(100)  # Playwright delivers request events while it runs
    saves.clear()
    inserts = [{"path": "burst.ipynb", "index": -1, "source": f"y = {n}"} for n in range(5)]
    with ThreadPoolExecutor(1) as pool:
        replies = pool.submit(asyncio.run, _together(lab, "coda_notebook_insert_cell", inserts)).result(timeout=120)
    assert all("error" not in reply for reply in replies), replies

    def sources_on_disk() -> list[str]:
        page.wait_for_timeout(100)
        try:
            return [c.source for c in nbformat.read(str(notebook), as_version=4).cells]
        except nbformat.reader.NotJSONError:
            return []  # read while the server writes it

    eventually(lambda: len(sources_on_disk()) == 6, "the page saving the burst", timeout=30)
    assert sorted(sources_on_disk()[1:]) == [f"y = {n}" for n in range(5)]
    # One save when the edits reach the page within one quiet period; a loaded
    # machine may spread them over two. One save per edit is what this forbids.
    assert len(saves) < len(inserts), saves
    page.keyboard.press("Control+s")
    page.locator(".jp-NotebookPanel .jp-mod-dirty").wait_for(state="detached")
    assert page.locator(".jp-Dialog").count() == 0


async def _together(lab: Lab, name: str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same tool called with each arguments at once, on one MCP session."""
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"token {lab.token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        streamable_http_client(lab.url + "api/coda/mcp", http_client=http) as streams,
        ClientSession(streams[0], streams[1]) as session,
    ):
        await session.initialize()
        replies = await asyncio.gather(*(session.call_tool(name, arguments) for arguments in calls))
    return [{"error": r.content[0].text} if r.is_error else r.structured_content for r in replies]
