"""CI guard: every coda handler is authenticated and authorized.

Starting a real ServerApp with ``allow_unauthenticated_access=False`` makes
Jupyter Server emit ``JupyterServerAuthWarning`` for any handler verb without
an auth decorator. The probe runs in a subprocess to keep the ServerApp
singleton out of the pytest process, and reports every flagged handler with
its module, so warnings about other extensions (terminado's TermSocket,
jupyter-lsp) are told apart from ours.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent(
    """
    import json, re, sys, warnings
    from jupyter_server.serverapp import ServerApp
    from jupyter_server.utils import JupyterServerAuthWarning

    extensions = {"coda_jupyter": True, "jupyter_server_terminals": True}
    extensions.update({name: True for name in sys.argv[2:]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = ServerApp(
            jpserver_extensions=extensions,
            allow_unauthenticated_access=False,
            reraise_server_extension_failures=True,
            root_dir=sys.argv[1],
            allow_root=True,
            open_browser=False,
        )
        app.initialize(argv=[])
    flagged = []
    for warning in caught:
        if issubclass(warning.category, JupyterServerAuthWarning):
            flagged += re.findall(r"- (\\w+) of (\\w+) registered for (\\S+)", str(warning.message))
    modules, coda = {}, []
    for rule in app.web_app.default_router.rules:
        for inner in getattr(rule.target, "rules", []):
            handler = inner.target
            if isinstance(handler, type):
                modules[handler.__name__] = handler.__module__
                if handler.__module__.startswith("coda_jupyter"):
                    coda.append({
                        "handler": handler.__name__,
                        "resource": getattr(handler, "auth_resource", None),
                        "pattern": inner.matcher.regex.pattern,
                    })
    offenders = [
        {"verb": verb, "handler": name, "module": modules.get(name, "?"), "pattern": pattern}
        for verb, name, pattern in flagged
    ]
    print(json.dumps({"offenders": offenders, "coda": coda}))
    """
)

UNDECORATED_EXTENSION = textwrap.dedent(
    """
    from jupyter_server.base.handlers import APIHandler

    class ForgottenHandler(APIHandler):
        auth_resource = "coda:forgotten"

        def get(self):
            self.finish("{}")

    def _jupyter_server_extension_points():
        return [{"module": __name__}]

    def _load_jupyter_server_extension(serverapp):
        serverapp.web_app.add_handlers(".*$", [("/coda/api/forgotten", ForgottenHandler)])
    """
)


def _probe(tmp_path: Path, *extra_extensions: str) -> dict[str, list[dict[str, str]]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path), *extra_extensions],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _ours(report: dict[str, list[dict[str, str]]], prefixes: tuple[str, ...]) -> list[dict[str, str]]:
    return [o for o in report["offenders"] if o["module"].startswith(prefixes) or o["module"] == "?"]


def test_no_coda_handler_without_auth_decorator(tmp_path: Path) -> None:
    report = _probe(tmp_path)
    assert _ours(report, ("coda_jupyter",)) == []
    assert report["coda"], "no coda handler was registered"
    for handler in report["coda"]:
        assert str(handler["resource"]).startswith("coda:"), handler
        assert "/coda/" in handler["pattern"], handler


def test_probe_catches_a_forgotten_decorator(tmp_path: Path) -> None:
    (tmp_path / "coda_jupyter_forgotten.py").write_text(UNDECORATED_EXTENSION, encoding="utf-8")
    report = _probe(tmp_path, "coda_jupyter_forgotten")
    offenders = _ours(report, ("coda_jupyter",))
    assert [(o["verb"], o["handler"]) for o in offenders] == [("GET", "ForgottenHandler")]
