"""A real ``jupyter server`` with coda-jupyter in a throwaway HOME, shared by the benchmarks.

Each benchmark brings its own stub agent (a shell script put on the
terminals' ``PATH`` as ``~/.local/bin/<executable>``) and any extra server
configuration; this module owns the rest: the HOME layout, the config file,
the environment and waiting until the server answers.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_server(
    home: Path,
    port: int,
    token: str,
    stubs: dict[str, str],
    config: dict[str, Any],
    extensions: tuple[str, ...] = (),
) -> subprocess.Popen[bytes]:
    """Start the server in its own process group; ``stubs`` maps executable names to scripts.

    ``config`` is merged over the base configuration section by section. The
    server's output goes to ``home/server.log``.
    """
    bin_dir = home / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    for name, script in stubs.items():
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    (home / "root").mkdir()
    enabled = {"coda_jupyter": True, "jupyter_server_terminals": True, **{name: True for name in extensions}}
    base: dict[str, dict[str, Any]] = {
        "ServerApp": {
            "port": port,
            "ip": "127.0.0.1",
            "open_browser": False,
            "allow_root": True,
            "root_dir": str(home / "root"),
            "jpserver_extensions": enabled,
        },
        "IdentityProvider": {"token": token},
    }
    for section, values in config.items():
        base[section] = {**base.get(section, {}), **values}
    (home / "config").mkdir()
    (home / "config" / "jupyter_server_config.json").write_text(json.dumps(base))
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "DATABRICKS_CONFIG_FILE": str(home / "no-databrickscfg"),
        "PYTHONPATH": str(REPO),
    }
    log = open(home / "server.log", "wb")  # noqa: SIM115 (lives as long as the server)
    return subprocess.Popen(
        [sys.executable, "-m", "jupyter_server"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_ready(port: int, token: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/status", headers={"Authorization": f"token {token}"})
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("server did not start")
