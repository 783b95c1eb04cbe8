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


async def test_not_installed_agent_explains_and_leaves_shell(
    jp_fetch: Any, read_terminal: TerminalReader
) -> None:
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
