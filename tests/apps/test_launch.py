"""The app's service principal: used once to find the owner, then out of reach.

The platform gives the command in ``app.yaml`` the service principal's
``DATABRICKS_CLIENT_ID``/``DATABRICKS_CLIENT_SECRET``. Every process of the
app runs as one user, so any environment or file of the app's processes is
readable from a terminal: the secret must be in none of them.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..browser.lab import Lab
from ..fakes.workspace import DEFAULT_APP, DEFAULT_APP_CREATOR, FakeWorkspace
from ..terminal_io import terminal_input
from .conftest import OWNER, SERVICE_PRINCIPAL_ENV, Visitor, apps_server
from .proxy import AppsProxy

SP_USER = "service-principal-1234"
SECRET = SERVICE_PRINCIPAL_ENV["DATABRICKS_CLIENT_SECRET"]
APP_PATH = f"/api/2.0/apps/{DEFAULT_APP}"

# Run in a terminal as the owner would: every process of this user that is an
# ancestor of the terminal or a descendant of the server, and every file under
# HOME. The secret comes hex-encoded so the command line and shell history
# never hold it.
LEAK_PROBE = textwrap.dedent(
    """
    import json, os, sys

    server, home, needle = int(sys.argv[1]), sys.argv[2], bytes.fromhex(sys.argv[3])

    def parent(pid):
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])

    def ancestry(pid):
        chain = []
        while pid > 0:
            chain.append(pid)
            try:
                pid = parent(pid)
            except OSError:
                break
        return chain

    def read(path):
        with open(path, "rb") as source:
            return source.read()

    mine = ancestry(os.getpid())
    tree = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.stat(f"/proc/{entry}").st_uid == os.getuid() and server in ancestry(int(entry)):
                tree.add(int(entry))
        except OSError:
            pass  # ended meanwhile
    report = {"terminal_under_server": server in mine, "scanned": {}, "unreadable": [], "leaks": []}
    for pid in sorted(tree | set(mine)):
        try:
            environ, command = read(f"/proc/{pid}/environ"), read(f"/proc/{pid}/cmdline")
        except OSError:
            report["unreadable"].append(pid)
            continue
        report["scanned"][pid] = command.replace(b"\\0", b" ").decode(errors="replace")[:200]
        if needle in environ:
            report["leaks"].append(pid)
    files, file_leaks = 0, []
    for root, _, names in os.walk(home):
        for name in names:
            path = os.path.join(root, name)
            if os.path.isfile(path) and not os.path.islink(path):
                files += 1
                if needle in read(path):
                    file_leaks.append(path)
    report.update(files=files, file_leaks=file_leaks)
    print("LEAK-REPORT", json.dumps(report), "END-REPORT")
    """
)


@pytest.fixture(scope="module")
def workspace() -> Iterator[FakeWorkspace]:
    with FakeWorkspace() as fake:
        fake.seed_service_principal(
            SERVICE_PRINCIPAL_ENV["DATABRICKS_CLIENT_ID"], SERVICE_PRINCIPAL_ENV["DATABRICKS_CLIENT_SECRET"], SP_USER
        )
        yield fake


def sp_env(workspace: FakeWorkspace) -> dict[str, str]:
    """What the platform gives an app: its name, the workspace, its service principal."""
    return {"DATABRICKS_APP_NAME": DEFAULT_APP, "DATABRICKS_HOST": workspace.host, **SERVICE_PRINCIPAL_ENV}


@pytest.fixture(scope="module")
def sp_app(tmp_path_factory: pytest.TempPathFactory, workspace: FakeWorkspace) -> Iterator[tuple[Lab, AppsProxy, Path]]:
    """Owner from the Apps API with the service principal's OAuth credentials."""
    base = tmp_path_factory.mktemp("apps-sp")
    with apps_server(base, sp_env(workspace)) as (lab, proxy):
        yield lab, proxy, base


def test_owner_from_the_apps_api(sp_app: tuple[Lab, AppsProxy, Path], workspace: FakeWorkspace) -> None:
    _, proxy, _ = sp_app
    assert Visitor(proxy.url, identity=DEFAULT_APP_CREATOR.upper()).request("api/contents").status == 200
    refused = Visitor(proxy.url, identity=OWNER).request("lab")
    assert refused.status == 403
    assert f"This app belongs to {DEFAULT_APP_CREATOR.lower()}. You are signed in as {OWNER}." in refused.text
    calls = workspace.calls(APP_PATH, "GET")
    assert calls and all(c.token_id and workspace.token(c.token_id).user_name == SP_USER for c in calls)


def test_service_principal_secret_is_in_no_process_or_file(sp_app: tuple[Lab, AppsProxy, Path]) -> None:
    lab, proxy, base = sp_app
    lab.api("api/kernels", "POST", b"{}")  # a kernel, so the scan covers one
    probe = base / "leak_probe.py"  # outside HOME, which the probe searches
    probe.write_text(LEAK_PROBE, encoding="utf-8")
    owner = Visitor(proxy.url, DEFAULT_APP_CREATOR)
    owner.request("lab")
    terminal = lab.api("api/terminals", "POST", b"{}")
    assert isinstance(terminal, dict)
    command = f"python3 {probe} {lab.process.pid} {lab.home} {SECRET.encode().hex()}"
    status, text = owner.websocket(f"terminals/websocket/{terminal['name']}", [terminal_input(command)], "END-REPORT")
    assert status == 101
    found = re.search(r"LEAK-REPORT (\{.*\}) END-REPORT", text)
    assert found, text[-2000:]
    report = json.loads(found.group(1))

    assert report["terminal_under_server"], report
    commands = report["scanned"].values()
    assert str(lab.process.pid) in report["scanned"], "the server's environment must have been read"
    assert any("ipykernel" in command for command in commands), report["scanned"]
    assert report["leaks"] == [], {pid: report["scanned"][str(pid)] for pid in report["leaks"]}
    assert report["files"] > 0 and report["file_leaks"] == []


def test_the_server_starts_once_the_owner_is_known(tmp_path: Path, workspace: FakeWorkspace) -> None:
    """The workspace does not know the app at first: the launcher asks again,
    and only then starts the server, which knows its owner from the start."""
    before = len(workspace.calls(APP_PATH, "GET"))
    workspace.fail_next(APP_PATH, 404, times=2)
    with apps_server(tmp_path, sp_env(workspace)) as (lab, proxy):
        assert Visitor(proxy.url, DEFAULT_APP_CREATOR).request("api/contents").status == 200
    assert [c.status for c in workspace.calls(APP_PATH, "GET")[before:]] == [404, 404, 200]
    log = lab.log.read_text(errors="replace")
    assert log.count("app owner unknown") == 2, log
    assert log.rindex("app owner unknown") < log.index("is running at"), log
    assert SECRET not in log
