"""``coda-jupyter-app``: the command ``app.yaml`` runs to start the server in a Databricks App.

The platform puts the app's service principal (``DATABRICKS_CLIENT_ID`` and
``DATABRICKS_CLIENT_SECRET``) in the environment of that command. The only
thing the app needs it for is finding out who owns the app. Every process of
the app runs as the same user, so a secret in the server's environment is
readable by every terminal, kernel and agent through ``/proc/<pid>/environ``.

So this launcher looks the owner up first, then replaces itself (``exec``, same
process, new image and environment) with ``jupyter lab`` and the given
arguments, with the owner in ``APP_OWNER_EMAIL`` and without the credentials.
Nothing the server starts can inherit them.

While the lookup fails (workspace API down, a service principal that may not
read the app) it keeps trying with backoff and the server does not start: the
platform shows the app as not running and its log says why. Starting anyway
would leave a server that refuses everyone and could never learn the owner,
since it no longer holds the credentials to ask.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from .owner import APP_NAME_VARIABLE, OWNER_VARIABLE, SERVICE_PRINCIPAL_VARIABLES, look_up_owner, owner_override

LOG = logging.getLogger("coda_jupyter.launch")
FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0


def wait_for_owner(app_name: str, sleep: Callable[[float], None] = time.sleep) -> str:
    """The app's owner, asking until the workspace answers."""
    delay = FIRST_RETRY_SECONDS
    while True:
        owner, error = look_up_owner(app_name)
        if owner is not None:
            LOG.info("app %s belongs to %s; starting the server", app_name, owner)
            return owner
        LOG.warning(
            "app owner unknown (%s); the server starts once it is known, next try in %.0f s. "
            "Setting %s in app.yaml skips this lookup.",
            error,
            delay,
            OWNER_VARIABLE,
        )
        sleep(delay)
        delay = min(delay * 2, MAX_RETRY_SECONDS)


def server_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` for the server: the owner named, the service principal gone."""
    server_env = {k: v for k, v in env.items() if k not in SERVICE_PRINCIPAL_VARIABLES}
    app_name = env.get(APP_NAME_VARIABLE)
    if app_name and owner_override(env) is None:
        server_env[OWNER_VARIABLE] = wait_for_owner(app_name)
    return server_env


# Arguments that choose the Jupyter root themselves.
_ROOT_OPTIONS = ("--ServerApp.root_dir", "--root_dir", "--notebook-dir", "--ServerApp.notebook_dir")
WORKSPACE_FOLDER = "projects"


def app_home(env: Mapping[str, str], cwd: Path) -> Path:
    """The app's HOME: as set (app.yaml sets one), else the app's own folder.

    An unset HOME, or ``/``, is no place to keep agent configs: fall back to
    the folder the platform starts the app in, its source folder.
    """
    home = env.get("HOME", "")
    return Path(home) if home not in ("", "/") else cwd


def workspace_root(argv: Sequence[str], home: Path) -> Path | None:
    """``~/projects`` (created) as the Jupyter root, unless ``argv`` names a root.

    The file browser, terminals and agents then open in the folder whose git
    commits are synced to the workspace, not in the app's own code.
    """
    # A bare argument is a root folder too (`jupyter lab <dir>`).
    if any(arg.split("=", 1)[0] in _ROOT_OPTIONS or not arg.startswith("-") for arg in argv):
        return None
    workspace = home / WORKSPACE_FOLDER
    workspace.mkdir(parents=True, exist_ok=True)
    return workspace


def main() -> NoReturn:
    logging.basicConfig(level=logging.INFO, format="[coda-jupyter-app] %(levelname)s %(message)s", stream=sys.stderr)
    env = server_environment(os.environ)
    home = app_home(env, Path.cwd())
    env["HOME"] = str(home)
    argv = sys.argv[1:]
    root = workspace_root(argv, home)
    if root is not None:
        argv = [*argv, f"--ServerApp.root_dir={root}"]
        # Jupyter starts terminals in its own working folder.
        os.chdir(root)
    sys.stderr.flush()
    sys.stdout.flush()
    # The interpreter running this script is the one coda-jupyter (and so
    # jupyterlab) is installed in, whatever PATH says.
    os.execve(sys.executable, [sys.executable, "-m", "jupyterlab", *argv], env)  # noqa: S606 -- no shell wanted


if __name__ == "__main__":
    main()
