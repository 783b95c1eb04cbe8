"""The ``--version`` probe must stay cheap whatever an executable on PATH does."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from coda_jupyter.agents import AgentSpec
from coda_jupyter.agents.probe import AgentProber

from .conftest import write_stub


def _spec(executable: str) -> AgentSpec:
    return AgentSpec(id="probe_test", label="Probe test", executable=executable, argv=(executable,))


def _path(bin_dir: Path) -> str:
    return os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.mark.timeout(20)
async def test_endless_version_output_is_cut_off_and_its_process_group_killed(tmp_path: Path) -> None:
    # Before: the whole output was buffered in memory until the timeout (gigabytes
    # from `yes`), and only the direct child was killed.
    pidfile = tmp_path / "child.pid"
    write_stub(tmp_path, "chatty", f"sleep 600 & echo $! > {pidfile}\nexec yes 'not a version'")
    prober = AgentProber(timeout=60)

    probe = await prober.probe(_spec("chatty"), _path(tmp_path))

    assert probe.installed and probe.version is None
    assert not _alive(int(pidfile.read_text()))


async def test_concurrent_probes_run_the_executable_once(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    write_stub(tmp_path, "slowver", f"echo run >> {calls}\nsleep 0.5\necho 'slowver 1.2.3'")
    prober = AgentProber(timeout=10)

    probes = await asyncio.gather(*(prober.probe(_spec("slowver"), _path(tmp_path)) for _ in range(5)))

    assert {probe.version for probe in probes} == {"1.2.3"}
    assert calls.read_text().count("run") == 1


async def test_version_after_startup_noise_is_found(tmp_path: Path) -> None:
    write_stub(tmp_path, "noisy", "echo 'warming up'\necho 'noisy v4.5.6'")

    probe = await AgentProber(timeout=10).probe(_spec("noisy"), _path(tmp_path))

    assert probe.version == "4.5.6"
