"""The notebook tools through the official MCP client, on notebook files and real kernels (no browser)."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

from .conftest import call, on_disk, write_notebook

NOTEBOOK_TOOLS = {
    "coda_notebook_list",
    "coda_notebook_read",
    "coda_notebook_insert_cell",
    "coda_notebook_edit_cell",
    "coda_notebook_delete_cell",
    "coda_notebook_execute",
    "coda_notebook_run_all",
    "coda_notebook_result",
    "coda_kernel_interrupt",
    "coda_kernel_restart",
}

# A 1x1 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


async def test_tools_are_listed_with_schemas(mcp_session: Any) -> None:
    async with mcp_session() as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    assert set(tools) >= NOTEBOOK_TOOLS
    assert tools["coda_notebook_insert_cell"].input_schema["required"] == ["path", "index", "source"]
    assert tools["coda_notebook_read"].annotations.read_only_hint is True
    assert tools["coda_kernel_restart"].annotations.destructive_hint is True
    execute = tools["coda_notebook_execute"].input_schema["properties"]
    assert set(execute) == {"path", "cell_id", "index", "timeout"}


async def test_read_insert_edit_delete(mcp_session: Any, root: Path) -> None:
    nb_file = write_notebook(root / "work" / "a.ipynb", ["a = 1", "b = 2"])
    first_id = on_disk(nb_file).cells[0].id
    async with mcp_session() as session:
        read = await call(session, "coda_notebook_read", path="work/a.ipynb")
        assert [c["source"] for c in read["cells"]] == ["a = 1", "b = 2"]
        assert read["cells"][0] == {
            "index": 0,
            "cell_id": first_id,
            "cell_type": "code",
            "source": "a = 1",
            "execution_count": None,
        }
        inserted = await call(
            session, "coda_notebook_insert_cell", path="work/a.ipynb", index=1, source="# Title", cell_type="markdown"
        )
        assert inserted["index"] == 1
        appended = await call(session, "coda_notebook_insert_cell", path="work/a.ipynb", index=-1, source="c = 3")
        assert appended["index"] == 3
        edited = await call(session, "coda_notebook_edit_cell", path="work/a.ipynb", cell_id=first_id, source="a = 10")
        assert edited == {"path": "work/a.ipynb", "cell_id": first_id, "index": 0}
        deleted = await call(session, "coda_notebook_delete_cell", path="work/a.ipynb", index=2)
        assert deleted["cells"] == 3
    nb = on_disk(nb_file)
    assert [(c.cell_type, c.source) for c in nb.cells] == [
        ("code", "a = 10"),
        ("markdown", "# Title"),
        ("code", "c = 3"),
    ]
    assert nb.cells[1].id == inserted["cell_id"] and nb.cells[2].id == appended["cell_id"]
    nbformat_valid(nb)


def nbformat_valid(nb: Any) -> None:
    import nbformat

    nbformat.validate(nb)


async def test_execute_shares_variables_in_the_notebooks_session(mcp_session: Any, root: Path, jp_fetch: Any) -> None:
    nb_file = write_notebook(root / "shared.ipynb", ["x = 41"])
    async with mcp_session() as session:
        first = await call(session, "coda_notebook_execute", path="shared.ipynb", index=0)
        assert first["status"] == "ok" and first["cells"][0]["execution_count"] == 1
        added = await call(session, "coda_notebook_insert_cell", path="shared.ipynb", index=-1, source="print(x + 1)")
        second = await call(session, "coda_notebook_execute", path="shared.ipynb", cell_id=added["cell_id"])
    assert second["status"] == "ok"
    assert second["cells"] == [{"cell_id": added["cell_id"], "status": "ok", "execution_count": 2, "outputs": ["42\n"]}]
    # The kernel is the notebook's session, the one JupyterLab connects the open notebook to.
    sessions = [s for s in jsonable(await jp_fetch("api", "sessions")) if s["path"] == "shared.ipynb"]
    assert len(sessions) == 1 and sessions[0]["type"] == "notebook"
    # The next time the user opens the notebook, the outputs are there.
    cell = on_disk(nb_file).cells[1]
    assert cell.execution_count == 2
    assert cell.outputs == [{"output_type": "stream", "name": "stdout", "text": "42\n"}]


def jsonable(response: Any) -> Any:
    import json

    return json.loads(response.body)


async def test_timeout_returns_a_handle_that_fetches_the_result(mcp_session: Any, root: Path) -> None:
    flag = root / "go.flag"
    waits = f"import os, time\nwhile not os.path.exists({str(flag)!r}):\n    time.sleep(0.05)\nprint('released')"
    write_notebook(root / "slow.ipynb", [waits])
    async with mcp_session() as session:
        started = await call(session, "coda_notebook_execute", path="slow.ipynb", index=0, timeout=0)
        assert started["status"] == "running" and "coda_notebook_result" in started["message"]
        handle = started["handle"]
        still = await call(session, "coda_notebook_result", handle=handle, timeout=0)
        assert still["status"] == "running" and still["cells"] == []
        flag.touch()
        done = await call(session, "coda_notebook_result", handle=handle, timeout=120)
        assert done["status"] == "ok"
        assert done["cells"][0]["outputs"] == ["released\n"]
        unknown = await call(session, "coda_notebook_result", handle="0" * 16)
    assert "unknown handle" in unknown["error"]
    assert on_disk(root / "slow.ipynb").cells[0].outputs[0]["text"] == "released\n"


async def test_concurrent_edits_all_land(mcp_session: Any, root: Path) -> None:
    nb_file = write_notebook(root / "busy.ipynb", ["start = 0"])
    async with mcp_session() as session:
        inserts = [
            call(session, "coda_notebook_insert_cell", path="busy.ipynb", index=-1, source=f"n = {n}")
            for n in range(12)
        ]
        edit = call(session, "coda_notebook_edit_cell", path="busy.ipynb", index=0, source="start = 1")
        results = await asyncio.gather(*inserts, edit)
    assert all("error" not in result for result in results)
    sources = [c.source for c in on_disk(nb_file).cells]
    assert sources[0] == "start = 1"
    assert sorted(sources[1:]) == sorted(f"n = {n}" for n in range(12))


async def test_paths_outside_the_root_and_bad_input_are_tool_errors(
    mcp_session: Any, root: Path, tmp_path: Path
) -> None:
    outside = write_notebook(tmp_path / "outside" / "secret.ipynb", ["s = 1"])
    os.symlink(outside.parent, root / "link")
    write_notebook(root / "ok.ipynb", ["y = 1"])
    (root / "notes.txt").write_text("hi")
    async with mcp_session() as session:
        cases = {
            "../outside/secret.ipynb": "outside the Jupyter root",
            str(outside): "outside the Jupyter root",
            "link/secret.ipynb": "leads outside the Jupyter root",
            "a/../../x.ipynb": "outside the Jupyter root",
            "notes.txt": "not a notebook",
            "missing.ipynb": "does not exist",
            "bad\x00.ipynb": "NUL",
        }
        for path, message in cases.items():
            result = await call(session, "coda_notebook_read", path=path)
            assert message in result.get("error", ""), (path, result)
        escaped = await call(session, "coda_notebook_insert_cell", path="../outside/secret.ipynb", index=0, source="x")
        assert "outside the Jupyter root" in escaped["error"]
        both = await call(session, "coda_notebook_edit_cell", path="ok.ipynb", index=0, cell_id="abc", source="z")
        assert "exactly one of cell_id and index" in both["error"]
        neither = await call(session, "coda_notebook_delete_cell", path="ok.ipynb")
        assert "exactly one of cell_id and index" in neither["error"]
        far = await call(session, "coda_notebook_execute", path="ok.ipynb", index=5)
        assert "out of range" in far["error"]
        gone = await call(session, "coda_notebook_edit_cell", path="ok.ipynb", cell_id="nope", source="z")
        assert "no cell with id" in gone["error"]
        md = await call(
            session, "coda_notebook_insert_cell", path="ok.ipynb", index=0, source="# h", cell_type="markdown"
        )
        ran_md = await call(session, "coda_notebook_execute", path="ok.ipynb", cell_id=md["cell_id"])
        assert "only code cells run" in ran_md["error"]
        no_kernel = await call(session, "coda_kernel_interrupt", path="ok.ipynb")
        assert "no running kernel" in no_kernel["error"]
        # The server still answers after all that.
        assert (await call(session, "coda_notebook_read", path="ok.ipynb"))["cells"][1]["source"] == "y = 1"
    assert on_disk(outside).cells[0].source == "s = 1"


async def test_outputs_images_and_errors(mcp_session: Any, root: Path) -> None:
    cells = [
        f"from IPython.display import Image, display\ndisplay(Image(data=__import__('base64').b64decode({PNG!r})))\n6 * 7",
        "print('x' * 50_000)",
        "1 / 0",
        "never = True",
    ]
    write_notebook(root / "out.ipynb", cells)
    async with mcp_session() as session:
        result = await session.call_tool("coda_notebook_execute", {"path": "out.ipynb", "index": 0})
        assert not result.is_error
        [text, image] = result.content
        assert image.type == "image" and image.mime_type == "image/png"
        assert base64.b64decode(image.data).startswith(b"\x89PNG")
        outputs = result.structured_content["cells"][0]["outputs"]
        assert outputs[0].endswith("42")
        capped = await call(session, "coda_notebook_execute", path="out.ipynb", index=1)
        [long] = capped["cells"][0]["outputs"]
        assert len(long) < 10_100 and "characters cut" in long
        run_all = await call(session, "coda_notebook_run_all", path="out.ipynb")
        assert run_all["status"] == "error"
        assert [c["status"] for c in run_all["cells"]] == ["ok", "ok", "error"]
        assert "ZeroDivisionError" in run_all["cells"][2]["outputs"][0]
        assert "\x1b[" not in run_all["cells"][2]["outputs"][0]
        read = await session.call_tool("coda_notebook_read", {"path": "out.ipynb", "include_outputs": True})
        assert [c.type for c in read.content] == ["text", "image"]
        assert read.structured_content["cells"][3]["outputs"] == []
    nb = on_disk(root / "out.ipynb")
    assert nb.cells[0].outputs[0]["data"]["image/png"].replace("\n", "") == PNG
    assert nb.cells[3].execution_count is None


async def test_interrupt_and_restart(mcp_session: Any, root: Path) -> None:
    busy = root / "busy.flag"
    write_notebook(
        root / "k.ipynb", [f"import time\nkept = 1\nopen({str(busy)!r}, 'w').close()\ntime.sleep(600)", "print(kept)"]
    )
    async with mcp_session() as session:
        started = await call(session, "coda_notebook_execute", path="k.ipynb", index=0, timeout=0)
        assert started["status"] == "running"
        await until_exists(busy)
        assert await call(session, "coda_kernel_interrupt", path="k.ipynb") == {"path": "k.ipynb", "interrupted": True}
        stopped = await call(session, "coda_notebook_result", handle=started["handle"], timeout=120)
        assert stopped["status"] == "error", stopped
        assert "KeyboardInterrupt" in stopped["cells"][0]["outputs"][0]
        kept = await call(session, "coda_notebook_execute", path="k.ipynb", index=1)
        assert kept["cells"][0]["outputs"] == ["1\n"]
        assert await call(session, "coda_kernel_restart", path="k.ipynb") == {"path": "k.ipynb", "restarted": True}
        lost = await call(session, "coda_notebook_execute", path="k.ipynb", index=1)
    assert lost["status"] == "error" and "NameError" in lost["cells"][0]["outputs"][0]


async def until_exists(path: Path, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not path.exists():
        assert asyncio.get_running_loop().time() < deadline, f"{path} never appeared"
        await asyncio.sleep(0.05)


async def test_list_puts_open_notebooks_first(mcp_session: Any, root: Path) -> None:
    write_notebook(root / "old.ipynb", ["1"])
    write_notebook(root / "deep" / "er" / "new.ipynb", ["2"])
    write_notebook(root / ".hidden" / "no.ipynb", ["3"])
    write_notebook(root / "running.ipynb", ["3"])
    async with mcp_session() as session:
        await call(session, "coda_notebook_execute", path="running.ipynb", index=0)
        listed = await call(session, "coda_notebook_list")
    assert [entry["path"] for entry in listed["open"]] == ["running.ipynb"]
    assert listed["open"][0]["kernel"]["name"] == "python3"
    assert {entry["path"] for entry in listed["recent"]} == {"old.ipynb", "deep/er/new.ipynb"}
