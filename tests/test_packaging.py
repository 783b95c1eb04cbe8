"""The wheel carries the prebuilt lab extension and the server config, and installs without node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(argv: list[str], **kwargs: object) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{argv} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert (ROOT / "coda_jupyter/labextension/static/style.js").exists(), "run `make build` first"
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(ROOT)])
    (built,) = out.glob("coda_jupyter-*.whl")
    return built


def test_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = next(name.split("/")[0] for name in names if ".data/" in name)
    ext = f"{data}/data/share/jupyter/labextensions/coda-jupyter"
    assert f"{ext}/package.json" in names
    assert f"{ext}/install.json" in names
    assert any(name.startswith(f"{ext}/static/remoteEntry.") for name in names)
    assert f"{data}/data/etc/jupyter/jupyter_server_config.d/coda_jupyter.json" in names
    assert "coda_jupyter/agents/icons/claude.svg" in names
    assert "coda_jupyter/handlers/openapi.yaml" in names
    assert "coda_jupyter/_version.py" in names
    skills = sorted(path.parent.name for path in (ROOT / "coda_jupyter/skills").glob("*/SKILL.md"))
    assert len(skills) >= 20
    assert [s for s in skills if f"coda_jupyter/skills/{s}/SKILL.md" not in names] == []


def test_wheel_installs_and_registers_without_node(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    bin_dir = venv / "bin"
    # Only the fresh venv on PATH: no node, npm or jlpm can be found.
    env = {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path / "home"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        **{k: v for k, v in os.environ.items() if k.startswith(("PIP_", "SSL_", "REQUESTS_CA"))},
    }
    assert shutil.which("node", path=env["PATH"]) is None
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)], env=env)

    servers = _run([str(bin_dir / "jupyter"), "server", "extension", "list"], env=env)
    assert "coda_jupyter enabled" in _plain(servers)
    assert "coda_jupyter 0.1.0 OK" in _plain(servers) or "coda_jupyter OK" in _plain(servers)

    labs = _plain(_run([str(bin_dir / "jupyter"), "labextension", "list"], env=env))
    assert "coda-jupyter v0.1.0 enabled OK (python, coda_jupyter)" in labs


def _plain(text: str) -> str:
    """Drop ANSI colours and collapse whitespace so the checks read like the output."""
    import re

    return " ".join(re.sub(r"\x1b\[[0-9;]*m", "", text).split())
