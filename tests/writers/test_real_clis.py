"""Each real agent CLI, when installed, reads the generated config cleanly.

Looked up on PATH, in ``~/.local/bin`` (where the setup engine installs) and
in ``CODA_TEST_CLI_PATH`` (extra folders); a missing CLI skips its tests.
Two checks per CLI, both offline:

* its own config/MCP/skill listing runs without a config error and shows
  what we wrote;
* a one-shot prompt reaches a fake model server (a stand-in for the
  Databricks cloud) at the configured route, with our key and model.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.gateway.routes import direct_endpoints
from coda_jupyter.agents.writers import SHARED_WRITERS, ConfigContext, Models

KEY = "dapi-cli-probe-key"
SHIPPED_SKILLS = {"coda-task-reporting", "databricks-cli-sdk", "databricks-workspace-sync"}


def cli_path() -> str:
    extra = os.environ.get("CODA_TEST_CLI_PATH", "")
    parts = [p for p in extra.split(os.pathsep) if p]
    parts += [str(Path.home() / ".local" / "bin"), os.environ.get("PATH", "")]
    return os.pathsep.join(parts)


def require(name: str) -> str:
    found = shutil.which(name, path=cli_path())
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


@dataclass
class Seen:
    path: str
    authorization: str | None
    model: str | None


class FakeModelServer:
    """Answers every call with a 400 and records what it was asked."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    model = json.loads(body).get("model") if body else None
                except ValueError:
                    model = None
                seen.append(Seen(self.path, self.headers.get("authorization"), model))
                payload = b'{"error": {"message": "fake model server: no"}}'
                self.send_response(400)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/serving-endpoints"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


@pytest.fixture
def configured(tmp_path: Path, fake_server: FakeModelServer) -> tuple[ConfigContext, dict[str, str]]:
    home = tmp_path / "home"
    (home / "projects").mkdir(parents=True)
    host = fake_server.base.removesuffix("/serving-endpoints")
    ctx = ConfigContext(
        home=home, endpoints=direct_endpoints(gateway=None, host=host), api_key=KEY, user_email="jane@example.com"
    )
    for spec in BUILTIN:
        spec.config_writer(ctx)  # type: ignore[misc]
    for writer in SHARED_WRITERS:
        if writer.name == "skills":
            writer(ctx)
    env = {
        "HOME": str(home),
        "PATH": cli_path(),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        "CI": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
    }
    fake_server.requests.clear()
    return ctx, env


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 90) -> tuple[int | None, str]:
    """Run a CLI in its own session; on timeout kill the whole group (agents
    spawn helpers) and return what it printed so far."""
    try:
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
    except OSError as exc:  # e.g. a launcher whose interpreter was removed
        pytest.skip(f"{argv[0]} cannot run: {exc}")
    try:
        output, _ = process.communicate(timeout=timeout)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output


def model_calls(server: FakeModelServer, prefix: str) -> list[Seen]:
    return [seen for seen in server.requests if seen.path.startswith(prefix)]


# --- Claude Code ---------------------------------------------------------------


def test_claude_lists_our_http_mcp_servers(configured: tuple[ConfigContext, dict[str, str]]) -> None:
    ctx, env = configured
    code, output = run([require("claude"), "mcp", "list"], env, ctx.home / "projects")
    assert code == 0, output
    assert "deepwiki: https://mcp.deepwiki.com/mcp (HTTP)" in output
    assert "exa: https://mcp.exa.ai/mcp (HTTP)" in output


def test_claude_prompt_reaches_the_configured_endpoint(
    configured: tuple[ConfigContext, dict[str, str]], fake_server: FakeModelServer
) -> None:
    ctx, env = configured
    run([require("claude"), "-p", "hello"], env, ctx.home / "projects")
    calls = model_calls(fake_server, "/serving-endpoints/anthropic/v1/messages")
    assert calls, fake_server.requests
    assert {(c.authorization, c.model) for c in calls} == {(f"Bearer {KEY}", Models().claude)}


# --- Codex -------------------------------------------------------------------


def test_codex_lists_our_mcp_servers(configured: tuple[ConfigContext, dict[str, str]]) -> None:
    ctx, env = configured
    code, output = run([require("codex"), "mcp", "list", "--json"], env, ctx.home / "projects")
    assert code == 0, output
    listed = json.loads(output[output.index("[") :])
    urls = {entry["name"]: entry["transport"].get("url") for entry in listed}
    assert urls == {"deepwiki": "https://mcp.deepwiki.com/mcp", "exa": "https://mcp.exa.ai/mcp"}


def test_codex_prompt_reaches_the_configured_endpoint(
    configured: tuple[ConfigContext, dict[str, str]], fake_server: FakeModelServer
) -> None:
    ctx, env = configured
    run([require("codex"), "exec", "--skip-git-repo-check", "hello"], env, ctx.home / "projects")
    calls = model_calls(fake_server, "/serving-endpoints/responses")
    assert calls, fake_server.requests
    assert {(c.authorization, c.model) for c in calls} == {(f"Bearer {KEY}", Models().codex)}


# --- Gemini CLI ----------------------------------------------------------------


def test_gemini_config_is_valid_and_skills_appear_once(configured: tuple[ConfigContext, dict[str, str]]) -> None:
    ctx, env = configured
    gemini = require("gemini")
    code, output = run([gemini, "mcp", "list"], env, ctx.home / "projects")
    assert code == 0, output
    assert "Invalid configuration" not in output
    assert "deepwiki: https://mcp.deepwiki.com/mcp (http)" in output
    code, output = run([gemini, "skills", "list"], env, ctx.home / "projects")
    assert code == 0, output
    assert "conflict" not in output.lower()
    for name in SHIPPED_SKILLS:
        assert output.count(f"{name} [Enabled]") == 1, output


def test_gemini_prompt_reaches_the_configured_endpoint(
    configured: tuple[ConfigContext, dict[str, str]], fake_server: FakeModelServer
) -> None:
    ctx, env = configured
    run([require("gemini"), "-p", "hello"], env, ctx.home / "projects")
    calls = model_calls(fake_server, f"/serving-endpoints/google/v1beta/models/{Models().gemini}:")
    assert calls, fake_server.requests
    assert {c.authorization for c in calls} == {f"Bearer {KEY}"}


# --- OpenCode ----------------------------------------------------------------


def test_opencode_lists_mcp_servers_and_each_skill_once(configured: tuple[ConfigContext, dict[str, str]]) -> None:
    ctx, env = configured
    opencode = require("opencode")
    code, output = run([opencode, "mcp", "list"], env, ctx.home / "projects")
    assert code == 0, output
    assert "deepwiki" in output and "exa" in output
    code, output = run([opencode, "debug", "skill"], env, ctx.home / "projects")
    assert code == 0, output
    names = [skill["name"] for skill in json.loads(output[output.index("[") :])]
    assert all(names.count(name) == 1 for name in SHIPPED_SKILLS), names


def test_opencode_prompt_reaches_the_configured_endpoint(
    configured: tuple[ConfigContext, dict[str, str]], fake_server: FakeModelServer
) -> None:
    ctx, env = configured
    run([require("opencode"), "run", "hello"], env, ctx.home / "projects")
    calls = model_calls(fake_server, "/serving-endpoints/chat/completions")
    assert calls, fake_server.requests
    models = Models()
    assert {c.authorization for c in calls} == {f"Bearer {KEY}"}
    assert {c.model for c in calls} <= {models.opencode, models.opencode_small}
    assert models.opencode in {c.model for c in calls}


# --- Hermes ------------------------------------------------------------------


def test_hermes_lists_mcp_servers_and_skills(configured: tuple[ConfigContext, dict[str, str]]) -> None:
    ctx, env = configured
    hermes = require("hermes")
    code, output = run([hermes, "mcp", "list"], env, ctx.home / "projects")
    assert code == 0, output
    assert "https://mcp.deepwiki.com/mcp" in output and "https://mcp.exa.ai/mcp" in output
    code, output = run([hermes, "skills", "list"], env, ctx.home / "projects")
    assert code == 0, output
    for name in SHIPPED_SKILLS:
        assert output.count(name) == 1, output


def test_hermes_prompt_reaches_the_endpoint_and_falls_back(
    configured: tuple[ConfigContext, dict[str, str]], fake_server: FakeModelServer
) -> None:
    ctx, env = configured
    run([require("hermes"), "-z", "hello"], env, ctx.home / "projects", timeout=120)
    calls = model_calls(fake_server, "/serving-endpoints/chat/completions")
    assert {c.authorization for c in calls} == {f"Bearer {KEY}"}
    models = Models()
    assert [m for m in (models.hermes, models.hermes_fallback) if m in {c.model for c in calls}] == [
        models.hermes,
        models.hermes_fallback,
    ]
