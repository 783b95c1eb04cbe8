"""A venv install that asks for package extras gets them, also over an install made without them.

pip is the venv's own ``python -m pip``; here a script stands in for that
python. It logs its arguments and, on ``pip install``, lays out the
distributions pip would (the package at its version, and ``mcp`` when the
requirement names the ``mcp`` extra), so the installer's own checks read a
venv as pip leaves it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.install import PypiVenvInstall
from coda_jupyter.setup.installers import InstallSettings, InstallTarget, ensure, missing_extras
from coda_jupyter.setup.step import StepContext

VERSION = "0.19.0"
SITE = "lib/python3.11/site-packages"
# Hermes' metadata: its MCP client comes only with the mcp extra.
METADATA = (
    "Metadata-Version: 2.1\nName: hermes-agent\nVersion: {version}\n"
    'Requires-Dist: pyyaml>=6\nRequires-Dist: mcp==1.26.0; extra == "mcp"\nRequires-Dist: pytest; extra == "dev"\n'
)
FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "{log}"
site="{venv}/{site}"
case "$*" in
  *"pip install"*hermes-agent*)
    mkdir -p "$site/hermes_agent-{version}.dist-info"
    cp "{metadata}" "$site/hermes_agent-{version}.dist-info/METADATA"
    case "$*" in *"hermes-agent[mcp]"*)
      mkdir -p "$site/mcp-1.26.0.dist-info"
      printf 'Metadata-Version: 2.1\\nName: mcp\\nVersion: 1.26.0\\n' > "$site/mcp-1.26.0.dist-info/METADATA";;
    esac;;
esac
"""


def lay_out_venv(settings: InstallSettings, with_mcp: bool) -> tuple[Path, Path]:
    """A Hermes venv as an earlier install left it; returns (venv, pip log)."""
    venv = settings.venv_root / "hermes"
    log = venv.parent / "pip.log"
    dist = venv / SITE / f"hermes_agent-{VERSION}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(METADATA.format(version=VERSION))
    if with_mcp:
        (venv / SITE / "mcp-1.26.0.dist-info").mkdir()
        (venv / SITE / "mcp-1.26.0.dist-info" / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: mcp\nVersion: 1.26.0\n"
        )
    python = venv / "bin" / "python"
    python.parent.mkdir(parents=True)
    metadata = venv.parent / "METADATA"
    metadata.write_text(METADATA.format(version=VERSION))
    python.write_text(FAKE_PYTHON.format(log=log, venv=venv, site=SITE, version=VERSION, metadata=metadata))
    hermes = venv / "bin" / "hermes"
    hermes.write_text(f"#!/bin/sh\necho 'Hermes Agent v{VERSION}'\n")
    for script in (python, hermes):
        script.chmod(0o755)
    return venv, log


@pytest.mark.asyncio
@pytest.mark.parametrize("with_mcp", [False, True])
async def test_an_install_without_the_extra_gets_it(tmp_path: Path, with_mcp: bool) -> None:
    install = next(spec.install for spec in BUILTIN if spec.id == "hermes")
    assert isinstance(install, PypiVenvInstall) and "mcp" in install.extras
    settings = InstallSettings(home=tmp_path / "home", pip_index_url="http://127.0.0.1:9/simple")
    venv, log = lay_out_venv(settings, with_mcp)
    assert missing_extras(install, venv) == ([] if with_mcp else ["mcp"])
    ctx = StepContext(step_id="install-hermes", log_path=tmp_path / "step.log", env=dict(os.environ))

    outcome = await ensure(install, ctx, InstallTarget("hermes", "hermes"), settings)

    assert outcome == f"installed {VERSION}"
    pip_calls = log.read_text().splitlines() if log.exists() else []
    if with_mcp:
        assert pip_calls == [], "a complete install is adopted as it is"
    else:
        assert len(pip_calls) == 1 and pip_calls[0].endswith(f"hermes-agent[mcp]=={VERSION}"), pip_calls
    assert missing_extras(install, venv) == []
    assert (settings.bin_dir / "hermes").resolve() == (venv / "bin" / "hermes").resolve()
