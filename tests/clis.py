"""Real agent CLIs for end-to-end tests, installed once with the project's own installers.

Each CLI is installed by its catalogue entry (``SPEC.install``, pinned) into a
persistent prefix ``$CODA_TEST_CACHE/clis/<agent>-<version>/`` (default cache
``~/.cache/coda-jupyter-tests``), with npm's cache beside it. The first run
downloads; later runs find the installer's marker and touch no network. A
failed install FAILS the tests that need the CLI, with the installer's
reason: a skip would hide a CI machine that cannot install. Set
``CODA_TEST_SKIP_REAL_CLIS=1`` to opt out explicitly.

Import the ``real_clis`` fixture into a test module (``from tests.clis import
real_clis``); it is session-scoped, so every module shares one install pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from coda_jupyter.agents import BUILTIN, AgentSpec
from coda_jupyter.setup.installers import InstallSettings, InstallTarget, ensure
from coda_jupyter.setup.step import StepContext

OPT_OUT = "CODA_TEST_SKIP_REAL_CLIS"
# The CLIs the end-to-end tests drive (every built-in agent); installed together on first use.
AGENTS = ("claude", "gemini", "codex", "opencode", "hermes")
INSTALL_TIMEOUT = 900.0
CREDENTIAL_PREFIXES = ("DATABRICKS_", "ANTHROPIC_", "OPENAI_", "GEMINI_", "GOOGLE_", "CODEX_", "CLAUDE")

# Everything a CLI may need to skip first-run prompts, update checks and
# telemetry offline. Unknown variables are harmless to the other CLIs.
QUIET_ENV = {
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "CI": "1",
    "NO_UPDATE_NOTIFIER": "1",
    "npm_config_update_notifier": "false",
    # Claude Code
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    # Gemini CLI
    "GEMINI_CLI_NO_RELAUNCH": "true",
    # Codex
    "CODEX_DISABLE_UPDATE_CHECK": "1",
    # OpenCode
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
}


def cache_dir() -> Path:
    return Path(os.environ.get("CODA_TEST_CACHE", "~/.cache/coda-jupyter-tests")).expanduser()


def spec(agent_id: str) -> AgentSpec:
    return next(candidate for candidate in BUILTIN if candidate.id == agent_id)


@dataclass(frozen=True)
class InstalledCli:
    spec: AgentSpec
    executable: Path
    # What the installer reported: "installed X" on a first run, "already installed X" after.
    outcome: str
    seconds: float

    @property
    def bin_dir(self) -> Path:
        return self.executable.parent


@dataclass(frozen=True)
class InstallFailure:
    agent_id: str
    reason: str
    log: str


class RealClis:
    """The outcome of the install pass, per agent."""

    def __init__(self, results: Mapping[str, InstalledCli | InstallFailure]) -> None:
        self.results = dict(results)

    def require(self, agent_id: str) -> InstalledCli:
        """The installed CLI, or fail the calling test with the installer's reason."""
        result = self.results[agent_id]
        if isinstance(result, InstallFailure):
            pytest.fail(
                f"installing the pinned {agent_id} CLI failed: {result.reason}\n"
                f"(set {OPT_OUT}=1 to opt out of real-CLI tests)\n--- install log tail ---\n{result.log[-3000:]}",
                pytrace=False,
            )
        return result


def install_settings(agent: AgentSpec) -> InstallSettings:
    cache = cache_dir()
    return InstallSettings(
        home=cache / "clis" / f"{agent.id}-{agent.install.version}", npm_cache=cache / "npm", pip_cache=cache / "pip"
    )


async def _install(agent: AgentSpec) -> InstalledCli | InstallFailure:
    settings = install_settings(agent)
    settings.home.mkdir(parents=True, exist_ok=True)
    log_path = settings.home / "install.log"
    log_path.write_text("", encoding="utf-8")
    # The machine's proxy and CA settings reach npm through the environment; credentials must not.
    env = {key: value for key, value in os.environ.items() if not key.startswith(CREDENTIAL_PREFIXES)}
    context = StepContext(step_id=f"test-install-{agent.id}", log_path=log_path, env=env)
    # Another pytest process may be installing the same prefix right now.
    with (settings.home.parent / f"{settings.home.name}.lock").open("w") as lock:
        await asyncio.get_running_loop().run_in_executor(None, fcntl.flock, lock, fcntl.LOCK_EX)
        started = time.monotonic()
        try:
            outcome = await asyncio.wait_for(
                ensure(agent.install, context, InstallTarget(agent.id, agent.executable), settings), INSTALL_TIMEOUT
            )
        except Exception as exc:  # any failure is reported to the tests, never swallowed
            return InstallFailure(agent.id, f"{type(exc).__name__}: {exc}", log_path.read_text("utf-8", "replace"))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return InstalledCli(agent, settings.bin_dir / agent.executable, outcome, time.monotonic() - started)


async def _install_all(agent_ids: Sequence[str]) -> dict[str, InstalledCli | InstallFailure]:
    results = await asyncio.gather(*(_install(spec(agent_id)) for agent_id in agent_ids))
    return dict(zip(agent_ids, results, strict=True))


@pytest.fixture(scope="session")
def real_clis() -> RealClis:
    if os.environ.get(OPT_OUT, "").strip() not in ("", "0"):
        pytest.skip(f"real-CLI tests opted out with {OPT_OUT}")
    # A thread of its own: async tests may already run an event loop here.
    with ThreadPoolExecutor(max_workers=1) as pool:
        results = pool.submit(asyncio.run, _install_all(AGENTS)).result()
    return RealClis(results)


# ----------------------------------------------------------------- running them


def clean_env(home: Path, cli: InstalledCli, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A minimal environment: the test HOME, the CLI and node on PATH, no real credentials."""
    node_dir = Path(shutil.which("node") or "/usr/bin/node").parent
    path = os.pathsep.join(dict.fromkeys([str(cli.bin_dir), str(node_dir), "/usr/local/bin", "/usr/bin", "/bin"]))
    env = {
        **QUIET_ENV,
        "HOME": str(home),
        "PATH": path,
        "TMPDIR": tempfile.gettempdir(),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "DATABRICKS_CONFIG_FILE": str(home / "no-databrickscfg"),
    }
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Ran:
    argv: Sequence[str]
    returncode: int | None  # None: killed after the timeout
    stdout: str
    stderr: str

    def describe(self) -> str:
        code = "timed out" if self.returncode is None else f"exit {self.returncode}"
        return f"$ {' '.join(self.argv)}  ({code})\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


async def run_cli_async(
    argv: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 180, stdin: Path | None = None
) -> Ran:
    """Run a CLI in its own session without blocking the loop (the gateway and fake serve on it).

    ``stdin`` is a file the CLI reads as its standard input, as a task's agent
    reads its prompt file. On timeout the whole process group is killed: agents spawn helpers.
    """
    with open(stdin or os.devnull, "rb") as source:
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=cwd,
            stdin=source,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    communicate = asyncio.ensure_future(process.communicate())
    try:
        stdout, stderr = await asyncio.wait_for(asyncio.shield(communicate), timeout)
        returncode: int | None = process.returncode
    except asyncio.TimeoutError:
        _kill_group(process.pid)
        stdout, stderr = await communicate
        returncode = None
    return Ran(argv, returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def files_containing(root: Path, secret: str) -> Iterator[Path]:
    """Every regular file under ``root`` whose bytes contain ``secret``."""
    needle = secret.encode()
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
            yield path
