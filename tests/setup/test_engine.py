"""The setup engine: ordering, parallelism, failures, conditions, retry, timeouts."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.setup import Condition, SetupEngine, Step, StepContext, StepError, run
from coda_jupyter.setup.installers import InstallSettings
from coda_jupyter.setup.plan import build_plan, credentials_condition, install_step_id
from coda_jupyter.setup.step import StepFunc
from coda_jupyter.setup.tools import DEFAULT_TOOLS, ToolSettings

STEP_KEYS = {"id", "label", "status", "needs", "started_at", "finished_at", "duration_s", "error", "log_tail"}


def shell(script: str) -> StepFunc:
    async def body(ctx: StepContext) -> str:
        await run(ctx, ["bash", "-c", script])
        return "ran"

    return body


def step(step_id: str, script: str = "true", **kwargs: object) -> Step:
    return Step(id=step_id, label=f"Step {step_id}", run=shell(script), **kwargs)


def by_id(snapshot: dict) -> dict[str, dict]:
    return {s["id"]: s for s in snapshot["steps"]}


@pytest.mark.asyncio
async def test_needs_order_and_snapshot_shape(tmp_path: Path) -> None:
    order = tmp_path / "order.txt"
    steps = [
        step("c", f"echo c >> {order}", needs=("b",)),
        step("b", f"sleep 0.2; echo b >> {order}", needs=("a",)),
        step("a", f"sleep 0.2; echo a >> {order}"),
    ]
    engine = SetupEngine(steps, state_dir=tmp_path / "state")
    assert engine.snapshot()["status"] == "pending"
    engine.start()
    snapshot = await engine.wait_settled(timeout=20)
    assert order.read_text().split() == ["a", "b", "c"]
    assert snapshot["status"] == "done"
    assert set(snapshot) == {"status", "steps"}
    steps_view = by_id(snapshot)
    assert all(set(s) == STEP_KEYS for s in snapshot["steps"])
    assert steps_view["c"]["needs"] == ["b"]
    assert steps_view["b"]["started_at"] >= steps_view["a"]["finished_at"]
    assert steps_view["c"]["started_at"] >= steps_view["b"]["finished_at"]
    assert "$ bash -c" in steps_view["a"]["log_tail"]
    assert (tmp_path / "state" / "setup" / "a.log").is_file()


@pytest.mark.asyncio
async def test_independent_steps_run_in_parallel(tmp_path: Path) -> None:
    engine = SetupEngine([step("one", "sleep 1"), step("two", "sleep 1")], state_dir=tmp_path, max_parallel=4)
    started = time.monotonic()
    engine.start()
    snapshot = await engine.wait_settled(timeout=20)
    wall = time.monotonic() - started
    longest = max(s["duration_s"] for s in snapshot["steps"])
    assert snapshot["status"] == "done"
    # Sequential would be ~2x the longest step; allow generous noise.
    assert wall < 1.5 * longest, (wall, longest)


@pytest.mark.asyncio
async def test_pool_is_bounded(tmp_path: Path) -> None:
    engine = SetupEngine([step(f"s{i}", "sleep 0.5") for i in range(3)], state_dir=tmp_path, max_parallel=1)
    engine.start()
    snapshot = await engine.wait_settled(timeout=20)
    spans = sorted((s["started_at"], s["finished_at"]) for s in snapshot["steps"])
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


@pytest.mark.asyncio
async def test_failure_marks_step_failed_and_skips_dependants(tmp_path: Path) -> None:
    steps = [
        step("broken", "echo 'npm ERR! something broke' >&2; exit 3"),
        step("child", needs=("broken",)),
        step("grandchild", needs=("child",)),
        step("independent", "sleep 0.2"),
    ]
    engine = SetupEngine(steps, state_dir=tmp_path)
    engine.start()
    snapshot = await engine.wait_settled(timeout=20)
    view = by_id(snapshot)
    assert snapshot["status"] == "failed"
    assert view["broken"]["status"] == "failed"
    assert "status 3" in view["broken"]["error"] and "something broke" in view["broken"]["error"]
    assert "something broke" in view["broken"]["log_tail"]
    assert view["child"] == {**view["child"], "status": "skipped", "error": "needs broken, which failed"}
    assert view["grandchild"]["status"] == "skipped"
    assert view["grandchild"]["error"] == "needs broken, which failed"
    assert view["independent"]["status"] == "done"


@pytest.mark.asyncio
async def test_python_exception_is_a_failure_not_a_success(tmp_path: Path) -> None:
    async def explode(ctx: StepContext) -> str:
        raise RuntimeError("disk on fire")

    engine = SetupEngine([Step(id="x", label="X", run=explode)], state_dir=tmp_path)
    engine.start()
    snapshot = await engine.wait_settled(timeout=10)
    assert snapshot["status"] == "failed"
    assert snapshot["steps"][0]["error"] == "RuntimeError: disk on fire"
    assert "Traceback" in snapshot["steps"][0]["log_tail"]


@pytest.mark.asyncio
async def test_waiting_condition_is_released_later(tmp_path: Path) -> None:
    present = {"creds": False}
    conditions = {"creds": Condition(check=lambda: present["creds"], waiting_reason="waiting for credentials")}
    steps = [step("install"), step("configure", needs=("install",), conditions=("creds",))]
    engine = SetupEngine(steps, state_dir=tmp_path, conditions=conditions)
    engine.start()
    snapshot = await engine.wait_settled(timeout=10)
    view = by_id(snapshot)
    assert snapshot["status"] == "waiting"
    assert view["install"]["status"] == "done"
    assert view["configure"]["status"] == "waiting"
    assert view["configure"]["error"] == "waiting for credentials"
    present["creds"] = True
    engine.condition_changed("creds")
    snapshot = await engine.wait_settled(timeout=10)
    assert snapshot["status"] == "done"
    assert by_id(snapshot)["configure"]["status"] == "done"


@pytest.mark.asyncio
async def test_local_mode_skips_then_runs_when_credentials_appear(tmp_path: Path) -> None:
    present = {"creds": False}
    marker = tmp_path / "configured"
    conditions = {"databricks-credentials": credentials_condition(lambda: present["creds"], local_mode=True)}
    steps = [
        step("install"),
        step("configure", f"touch {marker}", needs=("install",), conditions=("databricks-credentials",)),
        step("after-configure", needs=("configure",)),
    ]
    engine = SetupEngine(steps, state_dir=tmp_path / "state", conditions=conditions)
    engine.start()
    snapshot = await engine.wait_settled(timeout=10)
    view = by_id(snapshot)
    assert snapshot["status"] == "done"
    assert view["configure"]["status"] == "skipped"
    assert view["configure"]["error"] == "no Databricks credentials"
    assert view["after-configure"]["status"] == "skipped"
    assert not marker.exists()

    version = engine.version
    present["creds"] = True
    engine.condition_changed("databricks-credentials")
    await engine.wait_changed(version, timeout=5)
    snapshot = await engine.wait_settled(timeout=10)
    view = by_id(snapshot)
    assert snapshot["status"] == "done"
    assert [view[i]["status"] for i in ("configure", "after-configure")] == ["done", "done"]
    assert marker.exists()


@pytest.mark.asyncio
async def test_retry_reruns_failed_step_and_its_dependants(tmp_path: Path) -> None:
    flag = tmp_path / "network-is-back"
    steps = [step("flaky", f"test -e {flag}"), step("dependant", needs=("flaky",)), step("fine")]
    engine = SetupEngine(steps, state_dir=tmp_path / "state")
    changes: list[int] = []
    engine.add_listener(lambda: changes.append(engine.version))
    engine.start()
    snapshot = await engine.wait_settled(timeout=10)
    assert [s["status"] for s in snapshot["steps"]] == ["failed", "skipped", "done"]
    with pytest.raises(KeyError):
        engine.retry("no-such-step")
    assert engine.retry("fine") == []

    flag.touch()
    assert engine.retry("flaky") == ["flaky", "dependant"]
    snapshot = await engine.wait_settled(timeout=10)
    assert snapshot["status"] == "done"
    assert [s["error"] for s in snapshot["steps"]] == [None, None, None]
    assert changes, "listeners hear about state changes"


@pytest.mark.asyncio
async def test_retry_all_reruns_everything_failed(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    steps = [step("a", f"test -e {flag}"), step("b", f"test -e {flag}")]
    engine = SetupEngine(steps, state_dir=tmp_path / "state")
    engine.start()
    assert (await engine.wait_settled(timeout=10))["status"] == "failed"
    flag.touch()
    assert sorted(engine.retry()) == ["a", "b"]
    assert (await engine.wait_settled(timeout=10))["status"] == "done"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _group_members(pgid: int) -> set[int]:
    members = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                members.add(int(entry.name))
    return members


@pytest.mark.asyncio
async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    # The trailing "wait" keeps bash itself alive (no exec of the last command),
    # so the group holds bash, its background sleep and its foreground sleep.
    script = f"echo $$ > {pids}; sleep 100 & echo $! >> {pids}; sleep 100; wait"
    engine = SetupEngine([step("stuck", script, timeout=1.5)], state_dir=tmp_path / "state")
    engine.start()
    deadline = time.monotonic() + 10
    while len(pids.read_text().split() if pids.exists() else []) < 2:
        assert time.monotonic() < deadline, "the step never started its children"
        await asyncio.sleep(0.05)
    leader, background = (int(p) for p in pids.read_text().split())
    await asyncio.sleep(0.2)
    members = _group_members(leader)
    assert {leader, background} <= members and len(members) >= 3, members  # bash, sleep &, sleep

    snapshot = await engine.wait_settled(timeout=20)
    assert snapshot["steps"][0]["status"] == "failed"
    assert snapshot["steps"][0]["error"] == "timed out after 1.5s"
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in members):
        assert time.monotonic() < deadline, [pid for pid in members if _alive(pid)]
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_stop_kills_running_steps(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    engine = SetupEngine([step("long", f"echo $$ > {pids}; sleep 100")], state_dir=tmp_path / "state")
    engine.start()
    while not pids.exists() or not pids.read_text().strip():
        await asyncio.sleep(0.05)
    leader = int(pids.read_text())
    await engine.stop()
    deadline = time.monotonic() + 5
    while _alive(leader):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


@pytest.mark.asyncio
async def test_secrets_never_reach_errors_or_log_tails(tmp_path: Path) -> None:
    token = "dapi-very-secret-token-123"
    engine = SetupEngine([step("leaky", f"echo using {token}; exit 1")], state_dir=tmp_path, secrets=[token])
    engine.start()
    snapshot = await engine.wait_settled(timeout=10)
    assert token not in json.dumps(snapshot)
    assert "****" in snapshot["steps"][0]["error"]


def test_bad_graphs_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown step"):
        SetupEngine([step("a", needs=("ghost",))], state_dir=tmp_path)
    with pytest.raises(ValueError, match="cycle"):
        SetupEngine([step("a", needs=("b",)), step("b", needs=("a",))], state_dir=tmp_path)
    with pytest.raises(ValueError, match="duplicate"):
        SetupEngine([step("a"), step("a")], state_dir=tmp_path)


def test_start_needs_a_running_loop(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        SetupEngine([step("a")], state_dir=tmp_path).start()


def _fake_installed_home(home: Path) -> None:
    """Lay out what a finished setup leaves behind, with CLIs that answer --version."""
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    for spec in BUILTIN:
        install = spec.install
        script = f"#!/bin/sh\necho '{spec.id} {install.version}'\n"
        if type(install).__name__ == "NpmInstall":
            package_dir = home / ".local" / "lib" / "node_modules" / install.package
            package_dir.mkdir(parents=True)
            (package_dir / "package.json").write_text(json.dumps({"name": install.package, "version": install.version}))
            exe = package_dir / "cli.sh"
        else:
            venv = home / ".local" / "share" / "coda-jupyter" / "venvs" / spec.id
            site = venv / "lib" / "python3.11" / "site-packages"
            dist = site / f"{install.package.replace('-', '_')}-{install.version}.dist-info"
            dist.mkdir(parents=True)
            (dist / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: {install.package}\nVersion: {install.version}\n"
            )
            (venv / "bin").mkdir()
            (venv / "bin" / "python").symlink_to("/usr/bin/python3")
            exe = venv / "bin" / spec.executable
        exe.write_text(script)
        exe.chmod(0o755)
        (bin_dir / spec.executable).symlink_to(exe)
    for tool in DEFAULT_TOOLS:
        exe = bin_dir / tool.executable
        exe.write_text(f"#!/bin/sh\necho {tool.version}\n")
        exe.chmod(0o755)
        marker = home / ".local" / "share" / "coda-jupyter" / "installed" / f"tool-{tool.id}.json"
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps({"version": tool.version}))


@pytest.mark.asyncio
async def test_restart_with_everything_installed_is_all_no_ops(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _fake_installed_home(home)
    # Unreachable registries and missing installers: any real install attempt fails.
    install = InstallSettings(
        home=home, npm="/nonexistent/npm", npm_registry="http://127.0.0.1:9/", pip_index_url="http://127.0.0.1:9/simple"
    )
    tools = ToolSettings(home=home, base_url="http://127.0.0.1:9", system_path="")
    plan = build_plan(BUILTIN, install, tools)

    first = SetupEngine(plan, state_dir=tmp_path / "state")
    first.start()
    snapshot = await first.wait_settled(timeout=60)
    assert snapshot["status"] == "done", snapshot
    # The first start proves each pre-existing CLI runs, then records it.
    assert first.outcome(install_step_id("gemini")) == "installed 0.61.0"

    second = SetupEngine(build_plan(BUILTIN, install, tools), state_dir=tmp_path / "state")
    started = time.monotonic()
    second.start()
    snapshot = await second.wait_settled(timeout=30)
    elapsed = time.monotonic() - started
    assert snapshot["status"] == "done"
    outcomes = {s["id"]: second.outcome(s["id"]) for s in snapshot["steps"]}
    assert all(o and o.startswith("already installed") for o in outcomes.values()), outcomes
    assert elapsed < 3, elapsed


@pytest.mark.asyncio
async def test_missing_executable_fails_with_the_reason(tmp_path: Path) -> None:
    async def body(ctx: StepContext) -> str:
        await run(ctx, ["/nonexistent/tool", "--version"])
        return "unreachable"

    engine = SetupEngine([Step(id="x", label="X", run=body)], state_dir=tmp_path)
    engine.start()
    snapshot = await engine.wait_settled(timeout=10)
    assert snapshot["steps"][0]["error"].startswith("cannot run /nonexistent/tool")


@pytest.mark.asyncio
async def test_step_error_message_is_shown_as_is(tmp_path: Path) -> None:
    async def body(ctx: StepContext) -> str:
        raise StepError("npm registry unreachable")

    engine = SetupEngine([Step(id="x", label="X", run=body)], state_dir=tmp_path)
    engine.start()
    assert (await engine.wait_settled(timeout=10))["steps"][0]["error"] == "npm registry unreachable"
