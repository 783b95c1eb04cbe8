"""Run every config writer (and the ~/.databrickscfg write) in a process that cannot grow files.

``python -m tests.writers.full_disk_child '<json>'`` with ``home``, ``token``,
``email``, ``limit`` (bytes; 0 for no limit) and ``skip`` (writer names). With a limit, the process
ignores SIGXFSZ and sets ``RLIMIT_FSIZE``, so every write past ``limit``
bytes fails with EFBIG, as a full disk fails with ENOSPC; git, run by the
git writers, inherits both. Prints one JSON object: writer name -> the
number of files it changed, or the error it raised.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
from pathlib import Path
from typing import Any

from coda_jupyter.agents.writers import SHARED_WRITERS, ConfigContext, claude, codex, gemini, hermes, mlflow, opencode
from coda_jupyter.auth.credentials import write_profile
from coda_jupyter.sync import hooks

from .helpers import HOST, SERVING_ENDPOINTS

# Every writer: the agents' own, the shared ones, and those agents add (tracing).
WRITERS = (
    claude.WRITER,
    codex.WRITER,
    gemini.WRITER,
    opencode.WRITER,
    hermes.WRITER,
    *SHARED_WRITERS,
    mlflow.WRITER,
    hooks.WRITER,
)


def _outcome(call: Any) -> Any:
    try:
        return len(call())
    except Exception as err:  # the test wants to see every kind of failure
        return {"error": type(err).__name__, "errno": getattr(err, "errno", None)}


def main(argv: list[str]) -> None:
    request = json.loads(argv[0])
    home = Path(request["home"])
    if request["limit"]:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (request["limit"], request["limit"]))
    ctx = ConfigContext(
        home=home,
        endpoints=SERVING_ENDPOINTS,
        api_key=request["token"],
        host=HOST,
        user_email=request["email"],
        overwrite_git_identity=True,
    )
    chosen = [writer for writer in WRITERS if writer.name not in request.get("skip", ())]
    results = {writer.name: _outcome(lambda writer=writer: writer.write(ctx)) for writer in chosen}
    cfg = home / ".databrickscfg"
    results["databrickscfg"] = _outcome(lambda: write_profile(cfg, "coda-jupyter", HOST, request["token"]) or [cfg])
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1:])
