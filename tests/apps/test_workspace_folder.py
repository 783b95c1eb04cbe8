"""In an App, the Jupyter root is ~/projects: the folder whose commits sync to the workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from coda_jupyter.auth.launch import app_home, workspace_root

from ..browser.lab import Lab
from ..conftest import write_stub
from ..terminal_io import terminal_input
from .conftest import APP_NAME, OWNER, Visitor, apps_server
from .proxy import AppsProxy


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Lab, AppsProxy]]:
    env = {"DATABRICKS_APP_NAME": APP_NAME, "APP_OWNER_EMAIL": OWNER}
    with apps_server(tmp_path_factory.mktemp("apps-home"), env) as server:
        yield server


def test_file_browser_and_terminals_open_in_projects(app: tuple[Lab, AppsProxy]) -> None:
    lab, proxy = app
    projects = lab.home / "projects"
    assert projects.is_dir()
    (projects / "demo").mkdir(exist_ok=True)
    listing = Visitor(proxy.url, identity=OWNER).request("api/contents").json()
    assert [item["name"] for item in listing["content"]] == ["demo"]
    created = lab.api("api/terminals", "POST", b"{}")
    assert isinstance(created, dict)
    status, output = Visitor(lab.url, token=lab.token).websocket(
        f"terminals/websocket/{created['name']}",
        send=[terminal_input('echo "[$(pwd)]-$((40+2)) home=[$HOME]"')],
        until="]-42",
    )
    assert status == 101
    assert f"[{projects}]-42 home=[{lab.home}]" in output, output


def test_agents_start_in_projects(app: tuple[Lab, AppsProxy]) -> None:
    lab, _ = app
    # A stand-in agent (~/.local/bin comes first on every terminal's PATH) that says where it runs.
    write_stub(lab.home / ".local" / "bin", "claude", 'echo "agent in [$(pwd)]"')
    created = lab.api("coda/api/agents/claude/terminals", "POST", json.dumps({}).encode())
    assert isinstance(created, dict)
    status, output = Visitor(lab.url, token=lab.token).websocket(
        f"terminals/websocket/{created['name']}", until=f"agent in [{lab.home / 'projects'}]"
    )
    assert status == 101


def test_a_root_given_on_the_command_line_wins(tmp_path: Path) -> None:
    assert workspace_root(["--no-browser", "--ServerApp.root_dir=/srv"], tmp_path) is None
    assert workspace_root(["/srv"], tmp_path) is None
    assert not (tmp_path / "projects").exists()
    assert workspace_root(["--no-browser"], tmp_path) == tmp_path / "projects"
    assert (tmp_path / "projects").is_dir()


@pytest.mark.parametrize("home", ["", "/"])
def test_no_usable_home_falls_back_to_the_app_folder(home: str, tmp_path: Path) -> None:
    assert app_home({"HOME": home}, tmp_path) == tmp_path
    assert app_home({"HOME": str(tmp_path / "h")}, tmp_path) == tmp_path / "h"
