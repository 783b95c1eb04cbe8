"""The relay endpoints the lab extension polls, driven over HTTP as the page drives them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import call, on_disk, write_notebook


async def _post(jp_fetch: Any, route: str, body: Any) -> Any:
    response = await jp_fetch("coda", "api", "notebooks", "relay", route, method="POST", body=json.dumps(body))
    return json.loads(response.body) if response.body else None


@pytest.mark.parametrize(
    ("route", "body", "message"),
    [
        ("poll", [], "JSON object"),
        ("poll", {"client": "short"}, "client must be"),
        ("poll", {"client": "page-000001", "open": "a.ipynb"}, "open must be"),
        ("poll", {"client": "page-000001", "wait": 31}, "wait must be"),
        ("reply", {"client": "page-000001", "id": "1", "ok": True}, "id must be"),
    ],
)
async def test_bad_bodies_are_400(jp_fetch: Any, route: str, body: Any, message: str) -> None:
    with pytest.raises(HTTPClientError) as err:
        await _post(jp_fetch, route, body)
    assert err.value.code == 400
    assert message in json.loads(err.value.response.body)["message"]


async def test_reply_to_no_command_is_404(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as err:
        await _post(jp_fetch, "reply", {"client": "page-000001", "id": 99, "ok": True, "result": {}})
    assert err.value.code == 404


async def test_a_page_holding_the_notebook_gets_the_edit_and_the_file_is_left_alone(
    mcp_session: Any, jp_fetch: Any, jp_root_dir: Path
) -> None:
    nb_file = write_notebook(Path(jp_root_dir) / "held.ipynb", ["x = 41"])
    before = nb_file.read_bytes()
    client = "page-000001"
    assert await _post(jp_fetch, "poll", {"client": client, "open": ["held.ipynb", "../out.ipynb"]}) == {"commands": []}
    async with mcp_session() as session:
        listed = await call(session, "coda_notebook_list")
        assert listed["open"] == [{"path": "held.ipynb", "in_browser": True, "kernel": None}]
        insert = asyncio.ensure_future(
            call(session, "coda_notebook_insert_cell", path="held.ipynb", index=-1, source="print(x + 1)")
        )
        [command] = (await _post(jp_fetch, "poll", {"client": client, "open": ["held.ipynb"], "wait": 10}))["commands"]
        assert command == {
            "id": command["id"],
            "op": "insert",
            "path": "held.ipynb",
            "index": -1,
            "source": "print(x + 1)",
            "cell_type": "code",
        }
        reply = {"client": client, "id": command["id"], "ok": True, "result": {"cell_id": "c1", "index": 1, "cells": 2}}
        assert await _post(jp_fetch, "reply", reply) is None
        assert await insert == {"path": "held.ipynb", "cell_id": "c1", "index": 1, "cells": 2}

        failing = asyncio.ensure_future(call(session, "coda_notebook_delete_cell", path="held.ipynb", index=7))
        [command] = (await _post(jp_fetch, "poll", {"client": client, "open": ["held.ipynb"], "wait": 10}))["commands"]
        await _post(
            jp_fetch, "reply", {"client": client, "id": command["id"], "ok": False, "error": "index 7 is out of range"}
        )
        assert (await failing)["error"] == "index 7 is out of range"
    assert nb_file.read_bytes() == before
    assert [c.source for c in on_disk(nb_file).cells] == ["x = 41"]


async def test_a_page_runs_a_cell_in_one_round_trip_and_refusals_are_tool_errors(
    mcp_session: Any, jp_fetch: Any, jp_root_dir: Path
) -> None:
    """The page checks the cell itself when it runs it, so an execute needs no read of the whole notebook first.

    The fake page replies as ``labextension/src/notebook/relay.ts`` does: an
    ``execute`` result is ``{cell_id, status, execution_count, outputs}``, and
    a cell it cannot run (missing, not code, no kernel) is ``ok: false`` with
    the reason.
    """
    write_notebook(Path(jp_root_dir) / "held.ipynb", ["x = 41"])
    client = "page-000002"
    poll = {"client": client, "open": ["held.ipynb"], "wait": 10}
    await _post(jp_fetch, "poll", {**poll, "wait": 0})
    async with mcp_session() as session:
        ran = asyncio.ensure_future(call(session, "coda_notebook_execute", path="held.ipynb", cell_id="c1"))
        [command] = (await _post(jp_fetch, "poll", poll))["commands"]
        assert command == {"id": command["id"], "op": "execute", "path": "held.ipynb", "cell_id": "c1", "index": None}
        outputs = [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
        result = {"cell_id": "c1", "status": "ok", "execution_count": 2, "outputs": outputs}
        await _post(jp_fetch, "reply", {"client": client, "id": command["id"], "ok": True, "result": result})
        done = await ran
        assert done["status"] == "ok"
        assert done["cells"] == [{"cell_id": "c1", "status": "ok", "execution_count": 2, "outputs": ["42\n"]}]

        refused = asyncio.ensure_future(call(session, "coda_notebook_execute", path="held.ipynb", index=1))
        [command] = (await _post(jp_fetch, "poll", poll))["commands"]
        assert command["op"] == "execute" and command["index"] == 1
        error = "cell 'm1' is a markdown cell: only code cells run"
        await _post(jp_fetch, "reply", {"client": client, "id": command["id"], "ok": False, "error": error})
        assert (await refused) == {"error": error}
