"""Real installs from the npm registry and PyPI into a throwaway HOME.

Package caches are shared between runs (``CODA_TEST_CACHE``, default
``~/.cache/coda-jupyter-tests``) so repeated runs do not download again.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.install import NpmInstall
from coda_jupyter.setup import SetupEngine
from coda_jupyter.setup.installers import InstallSettings
from coda_jupyter.setup.plan import build_plan, install_step_id
from coda_jupyter.setup.tools import ToolSettings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

UNREACHABLE = "http://127.0.0.1:9/"
REAL = [spec for spec in BUILTIN if spec.id in ("gemini", "hermes")]


def cache_dir() -> Path:
    return Path(os.environ.get("CODA_TEST_CACHE", "~/.cache/coda-jupyter-tests")).expanduser()


def settings(home: Path, reachable: bool = True) -> InstallSettings:
    cache = cache_dir()
    return InstallSettings(
        home=home,
        npm_cache=cache / "npm",
        pip_cache=cache / "pip",
        npm_registry=None if reachable else UNREACHABLE,
        pip_index_url=None if reachable else UNREACHABLE + "simple",
    )


async def run_plan(home: Path, install: InstallSettings, agents: list = REAL) -> SetupEngine:
    plan = build_plan(agents, install, ToolSettings(home=home), tools=[])
    engine = SetupEngine(plan, state_dir=home / ".local" / "share" / "coda-jupyter" / "state", max_parallel=4)
    engine.start()
    await engine.wait_settled(timeout=1100)
    return engine


def cli_version(home: Path, executable: str) -> str:
    env = {"HOME": str(home), "PATH": f"{home}/.local/bin:{os.environ['PATH']}", "NO_COLOR": "1"}
    done = subprocess.run(
        [str(home / ".local" / "bin" / executable), "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.asyncio
async def test_real_gemini_and_hermes_install_then_no_op(tmp_path: Path) -> None:
    home = tmp_path / "home"
    engine = await run_plan(home, settings(home))
    snapshot = engine.snapshot()
    assert snapshot["status"] == "done", snapshot
    for spec in REAL:
        assert engine.outcome(install_step_id(spec.id)) == f"installed {spec.install.version}"
        assert spec.install.version in cli_version(home, spec.executable)
    # Hermes lives in its own venv, linked into ~/.local/bin.
    hermes_link = home / ".local" / "bin" / "hermes"
    assert hermes_link.is_symlink()
    assert (home / ".local" / "share" / "coda-jupyter" / "venvs" / "hermes") in hermes_link.resolve().parents

    # Second start with every registry unreachable: done without the network, fast.
    started = time.monotonic()
    again = await run_plan(home, settings(home, reachable=False))
    elapsed = time.monotonic() - started
    assert again.snapshot()["status"] == "done", again.snapshot()
    for spec in REAL:
        assert again.outcome(install_step_id(spec.id)) == f"already installed {spec.install.version}"
    assert all(step["duration_s"] < 1 for step in again.snapshot()["steps"])
    assert elapsed < 1, elapsed


@pytest.mark.asyncio
async def test_node_engine_mismatch_fails_naming_the_node_version(tmp_path: Path) -> None:
    home = tmp_path / "home"
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    too_new = NpmInstall("@anthropic-ai/claude-code", "2.1.332")  # engines.node >=22
    claude = next(spec for spec in BUILTIN if spec.id == "claude")
    if int(node.lstrip("v").split(".")[0]) >= 22:
        pytest.skip("this machine's node satisfies claude-code 2.1.332")
    engine = await run_plan(home, settings(home), agents=[replace(claude, install=too_new)])
    step = engine.snapshot()["steps"][0]
    assert step["status"] == "failed"
    assert "needs node >=22" in step["error"] and node in step["error"], step["error"]
    assert not (home / ".local" / "lib" / "node_modules" / "@anthropic-ai").exists()
