"""Release-download tools against a local mirror, plus the node engine check."""

from __future__ import annotations

import functools
import hashlib
import io
import socket
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coda_jupyter.setup import SetupEngine
from coda_jupyter.setup.node_range import parse_version, satisfies
from coda_jupyter.setup.plan import build_plan, tool_step_id
from coda_jupyter.setup.tools import GH, MICRO, ReleaseTool, ToolSettings, checksum_for, platform_key
from coda_jupyter.agents.install import InstallSettings

FAKE_VERSION = "9.8.7"


def fake_cli(version: str) -> bytes:
    return f"#!/bin/sh\necho 'fake tool version {version}'\n".encode()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server laid out like GitHub release downloads."""
    root = tmp_path / "mirror"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def publish(root: Path, tool: ReleaseTool, files: dict[str, bytes]) -> None:
    release = root / tool.repo / "releases" / "download" / f"v{tool.version}"
    release.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (release / name).write_bytes(data)


def fake_gh() -> ReleaseTool:
    return GH.with_version(FAKE_VERSION)


def gh_asset(tool: ReleaseTool) -> str:
    return f"gh_{tool.version}_{tool.platforms[platform_key()]}.tar.gz"


async def run_tools(home: Path, base_url: str, tools: list[ReleaseTool], system_path: str = "") -> SetupEngine:
    plan = build_plan([], InstallSettings(home=home), ToolSettings(home=home, base_url=base_url, system_path=system_path), tools=tools)
    engine = SetupEngine(plan, state_dir=home / "state")
    engine.start()
    await engine.wait_settled(timeout=60)
    return engine


def view(engine: SetupEngine) -> dict[str, dict]:
    return {s["id"]: s for s in engine.snapshot()["steps"]}


@pytest.mark.asyncio
async def test_download_verifies_checksum_and_installs(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    tool = fake_gh()
    archive = tar_gz({f"gh_{FAKE_VERSION}_linux_amd64/bin/gh": fake_cli(FAKE_VERSION), "gh/LICENSE": b"MIT"})
    digest = hashlib.sha256(archive).hexdigest()
    publish(root, tool, {gh_asset(tool): archive, f"gh_{FAKE_VERSION}_checksums.txt": f"{'0' * 64}  other.zip\n{digest}  {gh_asset(tool)}\n".encode()})
    home = tmp_path / "home"

    engine = await run_tools(home, base_url, [tool])
    step = view(engine)[tool_step_id("gh")]
    assert step["status"] == "done", step
    installed = home / ".local" / "bin" / "gh"
    assert installed.read_bytes() == fake_cli(FAKE_VERSION)
    assert installed.stat().st_mode & 0o111
    assert engine.outcome(tool_step_id("gh")) == f"installed {FAKE_VERSION}"

    # Second start: the mirror is gone, the marker and binary are enough.
    again = await run_tools(home, "http://127.0.0.1:9", [tool])
    assert again.outcome(tool_step_id("gh")) == f"already installed {FAKE_VERSION}"


@pytest.mark.asyncio
async def test_checksum_mismatch_fails_and_installs_nothing(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    tool = fake_gh()
    archive = tar_gz({"bin/gh": fake_cli(FAKE_VERSION)})
    publish(root, tool, {gh_asset(tool): archive, f"gh_{FAKE_VERSION}_checksums.txt": f"{'a' * 64}  {gh_asset(tool)}\n".encode()})
    home = tmp_path / "home"
    engine = await run_tools(home, base_url, [tool])
    step = view(engine)[tool_step_id("gh")]
    assert step["status"] == "failed"
    assert step["error"].startswith(f"checksum mismatch for {gh_asset(tool)}")
    assert not (home / ".local" / "bin" / "gh").exists()


@pytest.mark.asyncio
async def test_zip_release_without_checksums(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    tool = ReleaseTool(
        id="zippy",
        label="Zippy",
        executable="zippy",
        version=FAKE_VERSION,
        repo="example/zippy",
        asset="zippy_{version}_{platform}.zip",
        member="zippy",
        platforms={platform_key(): "here"},
    )
    publish(root, tool, {f"zippy_{FAKE_VERSION}_here.zip": zipped({"zippy": fake_cli(FAKE_VERSION), "README": b"hi"})})
    home = tmp_path / "home"
    engine = await run_tools(home, base_url, [tool])
    assert view(engine)[tool_step_id("zippy")]["status"] == "done"
    assert (home / ".local" / "bin" / "zippy").stat().st_mode & 0o111


@pytest.mark.asyncio
async def test_unreachable_mirror_fails_with_reason_and_others_carry_on(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dead = f"http://127.0.0.1:{dead_port}"
    home = tmp_path / "home"
    engine = await run_tools(home, dead, [fake_gh(), MICRO.with_version(FAKE_VERSION)])
    steps = view(engine)
    assert engine.snapshot()["status"] == "failed"
    for step_id in (tool_step_id("gh"), tool_step_id("micro")):
        assert steps[step_id]["status"] == "failed"
        assert steps[step_id]["error"].startswith(f"cannot download {dead}/"), steps[step_id]["error"]
        assert "Connection refused" in steps[step_id]["error"]


@pytest.mark.asyncio
async def test_missing_release_file_names_the_http_status(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, _ = mirror
    engine = await run_tools(tmp_path / "home", base_url, [MICRO.with_version(FAKE_VERSION)])
    error = view(engine)[tool_step_id("micro")]["error"]
    assert "HTTP 404" in error and f"micro-{FAKE_VERSION}" in error


@pytest.mark.asyncio
async def test_system_install_is_preferred(tmp_path: Path) -> None:
    system_bin = tmp_path / "usr-bin"
    system_bin.mkdir()
    gh = system_bin / "gh"
    gh.write_bytes(fake_cli("2.23.0"))
    gh.chmod(0o755)
    home = tmp_path / "home"
    engine = await run_tools(home, "http://127.0.0.1:9", [fake_gh()], system_path=str(system_bin))
    assert engine.outcome(tool_step_id("gh")) == f"using system {gh}"
    assert not (home / ".local" / "bin" / "gh").exists()


def test_checksum_file_formats() -> None:
    digest = "ab" * 32
    assert checksum_for(f"{digest}  tool.tar.gz\n", "tool.tar.gz") == digest
    assert checksum_for(f"{digest} *tool.tar.gz\n", "tool.tar.gz") == digest
    assert checksum_for(f"{digest}\n", "tool.tar.gz") == digest
    assert checksum_for(f"{digest}  other.tar.gz\n", "tool.tar.gz") is None


@pytest.mark.parametrize(
    ("node_range", "expected"),
    [
        (">=18.0.0", True),
        (">=22.0.0", False),
        (">= 20", True),
        ("^20.17.0 || >=22.9.0", True),
        ("^20.21.0 || >=22.9.0", False),
        ("^18", False),
        ("~20.20", True),
        ("18 - 20", True),
        ("18 - 19.9", False),
        (">20.20", False),
        ("<=20", True),
        ("<20", False),
        ("20.x", True),
        ("*", True),
        ("not a range", True),
    ],
)
def test_node_engine_ranges(node_range: str, expected: bool) -> None:
    assert satisfies(parse_version("v20.20.2"), node_range) is expected
