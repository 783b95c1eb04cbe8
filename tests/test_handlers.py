"""The REST API under coda/api, through a real Jupyter Server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from coda_jupyter import __version__

from .conftest import STUB_CLAUDE, TerminalReader, write_stub


async def _json(response: Any) -> Any:
    return json.loads(response.body.decode())


async def test_health(jp_fetch: Any) -> None:
    response = await jp_fetch("coda", "api", "health")
    assert response.code == 200
    assert await _json(response) == {"status": "ok", "version": __version__}


async def test_agents_lists_catalogue_with_install_state(jp_fetch: Any, user_bin: Path) -> None:
    stub = write_stub(user_bin, "claude", STUB_CLAUDE)
    agents = await _json(await jp_fetch("coda", "api", "agents"))
    by_id = {agent["id"]: agent for agent in agents}
    assert list(by_id) == ["claude", "codex", "gemini", "opencode", "hermes", "stubby"]
    assert by_id["claude"]["installed"] is True
    assert by_id["claude"]["version"] == "9.9.9"
    assert by_id["claude"]["executable"] == str(stub)
    assert by_id["claude"]["label"] == "Claude Code"
    assert by_id["claude"]["icon"].startswith("<svg")
    assert by_id["stubby"] == {
        **by_id["stubby"],
        "label": "Stubby",
        "installed": False,
        "version": None,
        "executable": None,
    }


async def test_agent_terminal_runs_agent_then_leaves_shell(
    jp_fetch: Any, jp_root_dir: Path, user_bin: Path, read_terminal: TerminalReader
) -> None:
    write_stub(user_bin, "claude", STUB_CLAUDE)
    (Path(jp_root_dir) / "proj").mkdir()
    response = await jp_fetch(
        "coda", "api", "agents", "claude", "terminals", method="POST", body=json.dumps({"cwd": "proj"})
    )
    name = (await _json(response))["name"]
    assert name == "claude_1"
    assert re.fullmatch(r"\w+", name)

    output = await read_terminal(name, until="nested=")
    assert f"stub-claude says hello from {Path(jp_root_dir).resolve() / 'proj'}" in output
    assert "nested=unset" in output

    # After the agent exits the tab is a shell in the same directory.
    shell = await read_terminal(name, until="still-42", send="echo still-$((6*7)) in $(pwd)\r")
    assert f"still-42 in {Path(jp_root_dir).resolve() / 'proj'}" in shell

    running = await _json(await jp_fetch("api", "terminals"))
    assert name in [terminal["name"] for terminal in running]

    second = await jp_fetch("coda", "api", "agents", "claude", "terminals", method="POST", body="{}")
    assert (await _json(second))["name"] == "claude_2"


async def test_agent_terminal_environment(
    jp_fetch: Any, user_bin: Path, read_terminal: TerminalReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set after server start: terminado copies os.environ when the PTY starts.
    monkeypatch.setenv("CLAUDECODE", "1")
    monkeypatch.setenv("CLAUDE_CODE_SESSION", "abc")
    write_stub(user_bin, "claude", STUB_CLAUDE)
    name = (await _json(await jp_fetch("coda", "api", "agents", "claude", "terminals", method="POST", body="{}")))[
        "name"
    ]
    await read_terminal(name, until="nested=unset")
    probe = 'echo "[${CLAUDE_CODE_SESSION:-gone}] [$JUPYTER_SERVER_URL] [$PATH]"\r'
    output = await read_terminal(name, until="[gone]", send=probe)
    line = output[output.index("[gone]") :]
    assert re.search(r"\[https?://[^\]]+\]", line), line
    assert str(user_bin) in line


async def test_plain_terminal_environment_is_cleaned(
    jp_fetch: Any, user_bin: Path, read_terminal: TerminalReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDECODE", "1")
    await jp_fetch("coda", "api", "health")  # the extension prepares the manager lazily
    await jp_fetch("coda", "api", "agents")
    name = (await _json(await jp_fetch("api", "terminals", method="POST", body="{}")))["name"]
    # The marker is computed by the shell so the echoed command cannot match it.
    output = await read_terminal(name, until="]-42", send='echo "[${CLAUDECODE:-absent}]-$((40+2))"\r')
    assert "[absent]-42" in output


async def test_not_installed_agent_explains_and_leaves_shell(jp_fetch: Any, read_terminal: TerminalReader) -> None:
    name = (await _json(await jp_fetch("coda", "api", "agents", "codex", "terminals", method="POST", body="{}")))[
        "name"
    ]
    assert name == "codex_1"
    output = await read_terminal(name, until="here.")
    assert "Codex is not installed" in output
    assert "@openai/codex" in output
    shell = await read_terminal(name, until="alive-7", send="echo alive-$((3+4))\r")
    assert "alive-7" in shell


@pytest.mark.parametrize(
    ("agent", "body", "code", "fragment"),
    [
        ("claude", {"cwd": "../"}, 400, "outside the server root"),
        ("claude", {"cwd": "../../etc"}, 400, "outside the server root"),
        ("claude", {"cwd": "missing-dir"}, 400, "not a directory"),
        ("claude", {"cwd": 42}, 400, "must be a string"),
        ("claude", {"cwd": "proj\u0000"}, 400, "NUL"),
        ("claude", {"cwd": "\u0000/etc"}, 400, "NUL"),
        ("claude", {"cwd": "proj\ud800"}, 400, "not a valid file name"),
        ("nope", {}, 404, "unknown agent"),
    ],
)
async def test_terminal_creation_errors(
    jp_fetch: Any, agent: str, body: dict[str, Any], code: int, fragment: str
) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "agents", agent, "terminals", method="POST", body=json.dumps(body))
    assert info.value.code == code
    payload = json.loads(info.value.response.body)
    assert fragment in payload["message"]


async def test_invalid_json_body_is_400(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "agents", "claude", "terminals", method="POST", body="{nope")
    assert info.value.code == 400
    assert "not valid JSON" in json.loads(info.value.response.body)["message"]


async def test_symlink_escape_is_refused(jp_fetch: Any, jp_root_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (Path(jp_root_dir) / "link").symlink_to(outside)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "agents", "claude", "terminals", method="POST", body='{"cwd": "link"}')
    assert info.value.code == 400


async def test_requests_without_token_are_refused(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "agents", headers={"Authorization": ""})
    assert info.value.code == 403


@pytest.mark.parametrize(
    "path",
    [("%C2%84",), ("not-an-id",), ("ABCDEF123456", "transcript"), ("..%2F..", "cancel")],
    ids=["control-char", "word", "upper-case", "encoded-slash"],
)
async def test_malformed_task_ids_get_a_json_404(jp_fetch: Any, path: tuple[str, ...]) -> None:
    method = "POST" if path[-1] == "cancel" else "GET"
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "tasks", *path, method=method, body="{}" if method == "POST" else None)
    assert info.value.code == 404
    assert "unknown task" in json.loads(info.value.response.body)["message"]


HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _route_operations() -> set[tuple[str, str]]:
    """(path template, method) for every verb a coda handler implements.

    Capture groups become ``{}``; verbs are those defined between the handler
    and ``CodaAPIHandler``, not the ones inherited from Tornado or Jupyter.
    """
    from coda_jupyter.handlers import ROUTES
    from coda_jupyter.handlers.base import CodaAPIHandler

    operations = set()
    for pattern, handler in ROUTES:
        template = re.sub(r"\([^)]*\)", "{}", pattern).replace("\\.", ".")
        for cls in handler.__mro__[: handler.__mro__.index(CodaAPIHandler)]:
            operations |= {(template, name) for name in vars(cls) if name in HTTP_METHODS}
    return operations


def _documented_operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    def resolved(item: dict[str, Any]) -> dict[str, Any]:
        # A path item may be a reference to another path (an alias).
        if "$ref" not in item:
            return item
        pointer = item["$ref"].removeprefix("#/paths/").replace("~1", "/").replace("~0", "~")
        return dict(document["paths"][pointer])

    return {
        (re.sub(r"\{[^}]+\}", "{}", path), method)
        for path, item in document["paths"].items()
        for method in resolved(item)
        if method in HTTP_METHODS
    }


def test_openapi_document_describes_exactly_the_registered_routes() -> None:
    from coda_jupyter.handlers.openapi import openapi_document

    document = openapi_document()
    routes, documented = _route_operations(), _documented_operations(document)
    assert routes - documented == set(), "routes missing from openapi.yaml"
    assert documented - routes == set(), "openapi.yaml describes routes that do not exist"
    assert document["openapi"].startswith("3.1")


async def test_openapi_json_is_served_with_version_and_base_url(jp_fetch: Any, jp_base_url: str) -> None:
    from coda_jupyter.handlers.openapi import openapi_document

    served = await _json(await jp_fetch("coda", "api", "openapi.json"))
    assert served["info"]["version"] == __version__
    assert served["servers"] == [{"url": jp_base_url.rstrip("/")}]
    assert served["paths"] == openapi_document()["paths"]


async def test_openapi_json_needs_authentication(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "openapi.json", headers={"Authorization": ""})
    assert info.value.code == 403
