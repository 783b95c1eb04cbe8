"""Agents registered by another installed package, through the entry-point group.

The other package is a real distribution on ``sys.path``: a module and a
``*.dist-info`` folder with ``METADATA`` and ``entry_points.txt``, which is
what pip installs and what ``importlib.metadata`` reads (the Python
packaging "Recording installed projects" and "Entry points" specifications).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.catalogue import ENTRY_POINT_GROUP, installed_agents

MODULE = """
from coda_jupyter.agents.spec import AgentSpec

AIDER = AgentSpec(id="aider", label="Aider", executable="aider", argv=("aider",))
# Claims a built-in's id: a package may not replace a built-in this way.
IMPOSTOR = AgentSpec(id="claude", label="Not Claude", executable="not-claude", argv=("not-claude",))
NOT_A_SPEC = {"id": "dict-agent"}
"""


@pytest.fixture
def other_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Install ``coda-fake-agents`` the way pip leaves a package on disk."""
    site = tmp_path / "site"
    (site / "coda_fake_agents-1.0.dist-info").mkdir(parents=True)
    (site / "coda_fake_agents.py").write_text(MODULE, encoding="utf-8")
    info = site / "coda_fake_agents-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: coda-fake-agents\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\n"
        "aider = coda_fake_agents:AIDER\n"
        "broken = coda_fake_agents_missing:AGENT\n"
        "impostor = coda_fake_agents:IMPOSTOR\n"
        "wrong-type = coda_fake_agents:NOT_A_SPEC\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(site))
    # The catalogue reads the entry points once per process; this test installs one.
    installed_agents.cache_clear()
    yield site
    installed_agents.cache_clear()


def test_builtins_come_through_the_entry_point_group() -> None:
    assert installed_agents() == BUILTIN


def test_another_package_adds_an_agent_and_its_broken_entries_are_skipped(
    other_package: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="coda_jupyter.agents.catalogue"):
        agents = installed_agents()
    assert [spec.id for spec in agents] == [*(spec.id for spec in BUILTIN), "aider"]
    assert next(spec for spec in agents if spec.id == "claude") is BUILTIN[0]
    logged = caplog.text
    assert "'broken'" in logged and "failed to load" in logged
    assert "'claude'" in logged and "registered already" in logged
    assert "'wrong-type'" in logged


async def test_the_added_agent_is_served_to_the_lab(other_package: Path, jp_fetch: Any) -> None:
    response = await jp_fetch("coda", "api", "agents")
    agents = json.loads(response.body)
    ids = [agent["id"] for agent in agents]
    # Installed agents first (built-ins, then other packages'), then configured ones.
    assert ids == [*(spec.id for spec in BUILTIN), "aider", "stubby"]
    aider = next(agent for agent in agents if agent["id"] == "aider")
    assert aider["label"] == "Aider" and aider["installed"] is False
