"""A real ``jupyter lab`` subprocess and a real Chromium, for browser tests and benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("CODA_CHROMIUM", "/usr/bin/chromium")
# Chromium as root in a sandbox-less container, with no traffic to the outside.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

# screenReaderMode puts terminal text in the DOM (it is otherwise drawn on a
# canvas); the news and update toasts would cover parts of the page.
TEST_SETTING_OVERRIDES = {
    "@jupyterlab/terminal-extension:plugin": {"screenReaderMode": True},
    "@jupyterlab/apputils-extension:notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    url: str
    token: str
    home: Path
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def page_url(self, path: str = "lab?reset") -> str:
        joiner = "&" if "?" in path else "?"
        return f"{self.url}{path}{joiner}token={self.token}"

    def api(self, path: str, method: str = "GET", body: bytes | None = None) -> object:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=body,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")


def prepare_dirs(
    base: Path, extension_enabled: bool = True, server_config: dict[str, object] | None = None
) -> dict[str, Path]:
    dirs = {name: base / name for name in ("home", "root", "config", "workspaces", "user-settings")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    labconfig = dirs["config"] / "labconfig"
    labconfig.mkdir(exist_ok=True)
    (labconfig / "default_setting_overrides.json").write_text(json.dumps(TEST_SETTING_OVERRIDES), encoding="utf-8")
    if server_config:
        (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps(server_config), encoding="utf-8")
    if not extension_enabled:
        (labconfig / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"coda-jupyter": True}}), encoding="utf-8"
        )
    return dirs


@contextmanager
def running_lab(
    base: Path,
    extension_enabled: bool = True,
    extra_env: dict[str, str] | None = None,
    extra_args: list[str] | None = None,
    timeout: float = 60,
    server_config: dict[str, object] | None = None,
    program: list[str] | None = None,
    choose_root: bool = True,
    builtin_setup: bool = False,
) -> Iterator[Lab]:
    """Start ``jupyter lab`` on a free port and stop it (and its terminals) afterwards.

    ``server_config`` becomes the lab's ``jupyter_server_config.json`` (for
    options awkward to pass on a command line, such as lists of dicts).
    ``program`` replaces ``python -m jupyterlab`` with a command that takes the
    same arguments (the Databricks App launcher). Without ``choose_root`` the
    server picks its own root (the launcher's ``~/projects``), started in
    ``base`` as the platform starts an app in its source folder.
    """
    if not extension_enabled:
        server_config = {**(server_config or {}), "ServerApp": {"jpserver_extensions": {"coda_jupyter": False}}}
    dirs = prepare_dirs(base, extension_enabled, server_config)
    port = free_port()
    token = secrets.token_hex(16)
    log = base / "lab.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "DATABRICKS_"))},
        "HOME": str(dirs["home"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "DATABRICKS_CONFIG_FILE": str(base / "no-databrickscfg"),
        **(extra_env or {}),
    }
    args = [
        *(program or [sys.executable, "-m", "jupyterlab"]),
        "--no-browser",
        "--allow-root",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        *([f"--ServerApp.root_dir={dirs['root']}"] if choose_root else []),
        f"--LabApp.workspaces_dir={dirs['workspaces']}",
        f"--LabApp.user_settings_dir={dirs['user-settings']}",
        # Real installs have their own tests; here they would compete for the CPU.
        f"--SetupService.builtin={builtin_setup}",
        *(extra_args or []),
    ]
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            args,
            env=env,
            cwd=dirs["root"] if choose_root else base,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    root = dirs["root"] if choose_root else Path(env["HOME"]) / "projects"
    lab = Lab(f"http://127.0.0.1:{port}/", token, dirs["home"], root, process, log)
    try:
        wait_until_ready(lab, timeout)
        yield lab
    finally:
        stop(process)


def wait_until_ready(lab: Lab, timeout: float) -> float:
    """Poll ``/api/status`` until it answers; return the seconds it took."""
    start = time.monotonic()
    while True:
        if lab.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited early:\n{lab.log.read_text(errors='replace')[-4000:]}")
        try:
            lab.api("api/status")
            return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"jupyter lab not ready:\n{lab.log.read_text(errors='replace')[-4000:]}") from None
            time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, 15)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 9)
            process.wait(timeout=5)


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()


def bring_to_front(page: Any, term_id: str) -> None:
    """Bring a terminal's tab to the front, by its content node's id: the one that tab shows."""
    page.evaluate(
        """(id) => {
          const widget = [...window.jupyterapp.shell.widgets('main')].find(w => w.content?.id === id);
          window.jupyterapp.shell.activateById(widget.id);
        }""",
        term_id,
    )
