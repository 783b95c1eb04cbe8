"""A system Databricks CLI older than the pinned one is replaced in ``~/.local/bin``.

Apps images ship an old Go CLI (or the legacy Python ``databricks-cli``) on
PATH. Release downloads come from the local mirror of ``test_tools``; the
"system" CLIs are stubs printing what each real CLI prints for ``--version``:
the Go CLI ``Databricks CLI v0.229.0`` (its version command), the legacy
Python package ``Version 0.18.0`` (databricks-cli 0.18's ``--version``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from coda_jupyter.setup.plan import tool_step_id
from coda_jupyter.setup.tools import DATABRICKS, ReleaseTool, platform_key, release_version
from tests.conftest import TerminalReader, write_stub
from tests.setup.test_tools import mirror, publish, run_tools, view, zipped

__all__ = ["mirror"]  # the fixture, imported so pytest finds it here

PINNED = "9.8.7"
STEP = tool_step_id("databricks")


def publish_pinned_cli(root: Path) -> dict[str, dict[str, str]]:
    """The pinned CLI on the mirror; returns the checksum setting that pins it."""
    tool: ReleaseTool = DATABRICKS.with_version(PINNED)
    archive = zipped({"databricks": f"#!/bin/sh\necho 'Databricks CLI v{PINNED}'\n".encode()})
    asset = tool.asset.format(version=PINNED, platform=tool.platforms[platform_key()])
    publish(root, tool, {asset: archive})
    return {"databricks": {platform_key(): hashlib.sha256(archive).hexdigest()}}


def system_cli(tmp_path: Path, version_output: str) -> Path:
    return write_stub(tmp_path / "usr-bin", "databricks", f"echo '{version_output}'")


@pytest.mark.asyncio
async def test_old_system_cli_is_replaced_and_the_reason_reported(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    checksums = publish_pinned_cli(root)
    old = system_cli(tmp_path, "Databricks CLI v0.229.0")
    home = tmp_path / "home"
    engine = await run_tools(
        home, base_url, [DATABRICKS], system_path=str(old.parent), checksums=checksums, versions={"databricks": PINNED}
    )
    step = view(engine)[STEP]
    assert step["status"] == "done", step
    assert engine.outcome(STEP) == f"installed {PINNED}, replacing system {old} 0.229.0, older than {PINNED}"
    assert (home / ".local" / "bin" / "databricks").stat().st_mode & 0o111

    again = await run_tools(
        home, "http://127.0.0.1:9", [DATABRICKS], system_path=str(old.parent), versions={"databricks": PINNED}
    )
    assert again.outcome(STEP) == f"already installed {PINNED}"


@pytest.mark.asyncio
async def test_legacy_python_cli_is_replaced(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    checksums = publish_pinned_cli(root)
    legacy = system_cli(tmp_path, "Version 0.18.0")
    home = tmp_path / "home"
    engine = await run_tools(
        home,
        base_url,
        [DATABRICKS],
        system_path=str(legacy.parent),
        checksums=checksums,
        versions={"databricks": PINNED},
    )
    assert engine.outcome(STEP) == (
        f"installed {PINNED}, replacing system {legacy}, whose version is unknown (it printed 'Version 0.18.0')"
    )
    assert (home / ".local" / "bin" / "databricks").exists()


@pytest.mark.asyncio
@pytest.mark.parametrize("version", [PINNED, "9.8.10", "10.0.0"])
async def test_system_cli_at_or_above_the_pin_is_kept(tmp_path: Path, version: str) -> None:
    # "9.8.10" sorts before "9.8.7" as a string: the comparison must be numeric.
    system = system_cli(tmp_path, f"Databricks CLI v{version}")
    home = tmp_path / "home"
    engine = await run_tools(
        home, "http://127.0.0.1:9", [DATABRICKS], system_path=str(system.parent), versions={"databricks": PINNED}
    )
    assert engine.outcome(STEP) == f"using system {system}"
    assert not (home / ".local" / "bin" / "databricks").exists()


@pytest.mark.asyncio
async def test_failed_replacement_names_the_old_cli(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, _ = mirror  # nothing published: the download answers 404
    old = system_cli(tmp_path, "Databricks CLI v0.229.0")
    checksums = {"databricks": {platform_key(): "a" * 64}}
    engine = await run_tools(
        tmp_path / "home",
        base_url,
        [DATABRICKS],
        system_path=str(old.parent),
        checksums=checksums,
        versions={"databricks": PINNED},
    )
    step = view(engine)[STEP]
    assert step["status"] == "failed", step
    assert "HTTP 404" in step["error"] and f"while replacing system {old} 0.229.0, older than {PINNED}" in step["error"]


def test_release_versions_compare_as_numbers() -> None:
    assert release_version("Databricks CLI v0.229.0") == (0, 229, 0)
    assert release_version("0.9.0") < release_version("0.229.0") < release_version("1.12.1")  # type: ignore[operator]
    assert release_version("v0.0.0-dev+abc") == (0, 0, 0)
    assert release_version("Version 0.18") is None


async def test_pinned_cli_wins_on_a_terminals_path(
    tmp_path: Path,
    mirror: tuple[str, Path],
    jp_fetch: Any,
    jp_home_dir: Path,
    read_terminal: TerminalReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server's own PATH has the old CLI; a terminal runs the replacement."""
    base_url, root = mirror
    checksums = publish_pinned_cli(root)
    old = system_cli(tmp_path, "Databricks CLI v0.229.0")
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}{os.environ['PATH']}")
    engine = await run_tools(
        jp_home_dir,
        base_url,
        [DATABRICKS],
        system_path=os.environ["PATH"],
        checksums=checksums,
        versions={"databricks": PINNED},
    )
    assert view(engine)[STEP]["status"] == "done", view(engine)[STEP]

    response = await jp_fetch("api", "terminals", method="POST", body="{}")
    name = json.loads(response.body)["name"]
    output = await read_terminal(
        name, until="]-42", send='databricks --version; echo "[$(command -v databricks)]-$((40+2))"\r'
    )
    assert f"Databricks CLI v{PINNED}" in output, output
    assert "v0.229.0" not in output, output
    assert f"[{jp_home_dir / '.local' / 'bin' / 'databricks'}]-42" in output, output
