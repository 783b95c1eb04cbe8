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
from traitlets.config import Config

from coda_jupyter.agents.writers import ConfigContext
from coda_jupyter.setup import SetupEngine
from coda_jupyter.setup.installers import InstallSettings
from coda_jupyter.setup.node_range import parse_version, satisfies
from coda_jupyter.setup.plan import build_plan, tool_step_id
from coda_jupyter.setup.service import SetupService
from coda_jupyter.setup.tools import DEFAULT_TOOLS, GH, MICRO, ReleaseTool, ToolSettings, check_checksums, platform_key
from tests.trap import plant_trap

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


async def run_tools(
    home: Path,
    base_url: str,
    tools: list[ReleaseTool],
    system_path: str = "",
    checksums: dict[str, dict[str, str]] | None = None,
    versions: dict[str, str] | None = None,
) -> SetupEngine:
    settings = ToolSettings(home=home, base_url=base_url, system_path=system_path, checksums=checksums or {})
    plan = build_plan([], InstallSettings(home=home), settings, versions=versions, tools=tools)
    engine = SetupEngine(plan, state_dir=home / "state")
    engine.start()
    await engine.wait_settled(timeout=60)
    return engine


def publish_zippy(root: Path, files: dict[str, bytes]) -> ReleaseTool:
    """A zip-released tool pinned to the checksum of ``files`` zipped, published on the mirror."""
    archive = zipped(files)
    tool = ReleaseTool(
        id="zippy",
        label="Zippy",
        executable="zippy",
        version=FAKE_VERSION,
        repo="example/zippy",
        asset="zippy_{version}_{platform}.zip",
        member="zippy",
        platforms={platform_key(): "here"},
        sha256={platform_key(): hashlib.sha256(archive).hexdigest()},
    )
    publish(root, tool, {f"zippy_{FAKE_VERSION}_here.zip": archive})
    return tool


def view(engine: SetupEngine) -> dict[str, dict]:
    return {s["id"]: s for s in engine.snapshot()["steps"]}


@pytest.mark.asyncio
async def test_configured_checksum_that_does_not_match_installs_nothing(
    tmp_path: Path, mirror: tuple[str, Path]
) -> None:
    base_url, root = mirror
    tool = fake_gh()
    publish(root, tool, {gh_asset(tool): tar_gz({"bin/gh": fake_cli(FAKE_VERSION)})})
    home = tmp_path / "home"
    engine = await run_tools(
        home, base_url, [GH], checksums={"gh": {platform_key(): "a" * 64}}, versions={"gh": FAKE_VERSION}
    )
    step = view(engine)[tool_step_id("gh")]
    assert step["status"] == "failed"
    assert step["error"].startswith(f"checksum mismatch for {gh_asset(tool)}")
    assert not (home / ".local" / "bin" / "gh").exists()


@pytest.mark.asyncio
async def test_zip_release_with_a_pinned_checksum(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    tool = publish_zippy(root, {"zippy": fake_cli(FAKE_VERSION), "README": b"hi"})
    home = tmp_path / "home"
    engine = await run_tools(home, base_url, [tool])
    assert view(engine)[tool_step_id("zippy")]["status"] == "done"
    assert (home / ".local" / "bin" / "zippy").stat().st_mode & 0o111


@pytest.mark.asyncio
async def test_download_runs_none_of_the_code_in_the_servers_folder(
    tmp_path: Path, mirror: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server runs from the user's notebook root, which may hold a
    # repository with a coda_jupyter/ folder of its own.
    base_url, root = mirror
    tool = publish_zippy(root, {"zippy": fake_cli(FAKE_VERSION)})
    notebooks = tmp_path / "notebooks"
    fired = plant_trap(notebooks)
    monkeypatch.chdir(notebooks)
    engine = await run_tools(tmp_path / "home", base_url, [tool])
    assert view(engine)[tool_step_id("zippy")]["status"] == "done"
    assert not fired.exists(), "the download step imported the folder's coda_jupyter"


@pytest.mark.asyncio
async def test_unreachable_mirror_fails_with_reason_and_others_carry_on(
    tmp_path: Path, mirror: tuple[str, Path]
) -> None:
    base_url, root = mirror
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    dead = f"http://127.0.0.1:{dead_port}"
    home = tmp_path / "home"
    engine = await run_tools(home, dead, [GH, MICRO])
    steps = view(engine)
    assert engine.snapshot()["status"] == "failed"
    for step_id in (tool_step_id("gh"), tool_step_id("micro")):
        assert steps[step_id]["status"] == "failed"
        assert steps[step_id]["error"].startswith(f"cannot download {dead}/"), steps[step_id]["error"]
        assert "Connection refused" in steps[step_id]["error"]


@pytest.mark.asyncio
async def test_missing_release_file_names_the_http_status(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, _ = mirror
    engine = await run_tools(tmp_path / "home", base_url, [MICRO])
    error = view(engine)[tool_step_id("micro")]["error"]
    assert "HTTP 404" in error and f"micro-{MICRO.version}" in error


@pytest.mark.asyncio
async def test_mirror_cannot_swap_the_archive_and_its_checksum_file(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    """A mirror decides where the pinned file comes from, never which file it is."""
    base_url, root = mirror
    tampered = tar_gz({f"gh_{GH.version}_linux_amd64/bin/gh": fake_cli(GH.version)})
    digest = hashlib.sha256(tampered).hexdigest()
    publish(
        root, GH, {gh_asset(GH): tampered, f"gh_{GH.version}_checksums.txt": f"{digest}  {gh_asset(GH)}\n".encode()}
    )
    home = tmp_path / "home"

    engine = await run_tools(home, base_url, [GH])
    step = view(engine)[tool_step_id("gh")]
    assert step["status"] == "failed", step
    assert step["error"].startswith(f"checksum mismatch for {gh_asset(GH)}"), step["error"]
    assert not (home / ".local" / "bin").exists() or not any((home / ".local" / "bin").iterdir())


@pytest.mark.asyncio
async def test_tampered_micro_archive_is_refused(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    asset = f"micro-{MICRO.version}-{MICRO.platforms[platform_key()]}.tar.gz"
    publish(root, MICRO, {asset: tar_gz({f"micro-{MICRO.version}/micro": fake_cli(MICRO.version)})})
    home = tmp_path / "home"

    engine = await run_tools(home, base_url, [MICRO])
    step = view(engine)[tool_step_id("micro")]
    assert step["status"] == "failed", step
    assert step["error"].startswith(f"checksum mismatch for {asset}"), step["error"]
    assert not (home / ".local" / "bin" / "micro").exists()


@pytest.mark.asyncio
async def test_overridden_version_installs_with_a_configured_checksum(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    tool = fake_gh()
    archive = tar_gz({f"gh_{FAKE_VERSION}_linux_amd64/bin/gh": fake_cli(FAKE_VERSION)})
    publish(root, tool, {gh_asset(tool): archive})
    home = tmp_path / "home"

    checksums = {"gh": {platform_key(): hashlib.sha256(archive).hexdigest().upper()}}
    engine = await run_tools(home, base_url, [GH], checksums=checksums, versions={"gh": FAKE_VERSION})
    step = view(engine)[tool_step_id("gh")]
    assert step["status"] == "done", step
    installed = home / ".local" / "bin" / "gh"
    assert installed.read_bytes() == fake_cli(FAKE_VERSION)
    assert installed.stat().st_mode & 0o111
    assert engine.outcome(tool_step_id("gh")) == f"installed {FAKE_VERSION}"

    # Second start: the mirror is gone, the marker and binary are enough.
    again = await run_tools(home, "http://127.0.0.1:9", [GH], versions={"gh": FAKE_VERSION})
    assert again.outcome(tool_step_id("gh")) == f"already installed {FAKE_VERSION}"


@pytest.mark.asyncio
async def test_overridden_version_without_checksum_names_the_setting(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    base_url, root = mirror
    tool = fake_gh()
    # Everything a download needs is on the mirror, checksum file included:
    # only a checksum from our own configuration may be trusted.
    archive = tar_gz({f"gh_{FAKE_VERSION}_linux_amd64/bin/gh": fake_cli(FAKE_VERSION)})
    digest = hashlib.sha256(archive).hexdigest()
    publish(
        root,
        tool,
        {gh_asset(tool): archive, f"gh_{FAKE_VERSION}_checksums.txt": f"{digest}  {gh_asset(tool)}\n".encode()},
    )
    home = tmp_path / "home"

    engine = await run_tools(home, base_url, [GH], versions={"gh": FAKE_VERSION})
    step = view(engine)[tool_step_id("gh")]
    assert step["status"] == "failed", step
    error = step["error"]
    assert "SetupService.tool_checksums" in error and f'"{platform_key()}"' in error and gh_asset(tool) in error, error
    assert not (home / ".local" / "bin" / "gh").exists()


@pytest.mark.asyncio
async def test_server_settings_reach_the_tool_step(
    tmp_path: Path, mirror: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SetupService's tools_base_url, install_versions and tool_checksums, as configured."""
    base_url, root = mirror
    tool = fake_gh()
    archive = tar_gz({"bin/gh": fake_cli(FAKE_VERSION)})
    publish(root, tool, {gh_asset(tool): archive})
    home = tmp_path / "home"
    empty_bin = tmp_path / "no-tools"
    empty_bin.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", str(empty_bin))  # no system gh to prefer

    def no_context() -> ConfigContext:
        raise RuntimeError("configure steps are not under test here")

    def service(checksums: dict[str, dict[str, str]]) -> SetupService:
        return SetupService(
            [],
            tmp_path / "state",
            credentials_present=lambda: False,
            local_mode=True,
            terminal_path="/usr/bin:/bin",
            context=no_context,
            config=Config(
                {
                    "SetupService": {
                        "install_versions": {"gh": FAKE_VERSION},
                        "max_parallel": 2,
                        "tools_base_url": base_url,
                        "tool_checksums": checksums,
                    }
                }
            ),
        )

    with pytest.raises(ValueError, match="SetupService.tool_checksums"):
        service({"gh": {platform_key(): "not-a-sha"}})

    setup = service({"gh": {platform_key(): hashlib.sha256(archive).hexdigest()}})
    setup.start()
    try:
        await setup.engine.wait_settled(timeout=60)
        assert setup.engine.outcome(tool_step_id("gh")) == f"installed {FAKE_VERSION}"
    finally:
        await setup.stop()
    assert (home / ".local" / "bin" / "gh").read_bytes() == fake_cli(FAKE_VERSION)


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


@pytest.mark.parametrize(
    ("checksums", "complaint"),
    [
        ({"ghh": {"linux-amd64": "a" * 64}}, "unknown tool 'ghh'"),
        ({"gh": {"windows-amd64": "a" * 64}}, "unknown platform 'windows-amd64'"),
        ({"gh": {"linux-amd64": "a" * 63}}, "not a hex SHA-256"),
        ({"gh": {"linux-amd64": "g" * 64}}, "not a hex SHA-256"),
    ],
)
def test_checksum_setting_is_checked_when_the_plan_is_built(tmp_path: Path, checksums: dict, complaint: str) -> None:
    settings = ToolSettings(home=tmp_path, checksums=checksums)
    with pytest.raises(ValueError, match="SetupService.tool_checksums") as raised:
        build_plan([], InstallSettings(home=tmp_path), settings, tools=[GH])
    assert complaint in str(raised.value)


def test_every_default_tool_pins_well_formed_checksums() -> None:
    for tool in DEFAULT_TOOLS:
        assert tool.sha256, tool.id
        check_checksums([tool], {tool.id: dict(tool.sha256)})


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
