"""Skill packs from ``skill_sources``: pinned git, pip and npm sources, installed by setup and shared like the shipped skills.

The sources are real and local: a git repository made here (``file://``), a
wheel served by ``python -m http.server`` (pip reads a directory listing as a
simple index page, as it does on any PEP 503 index), and an npm tarball made
by ``npm pack`` served by a registry stand-in that answers the two requests
npm makes (the package document, then the tarball it names).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from coda_jupyter.agents.writers import ConfigContext
from coda_jupyter.agents.writers.skills import SHIPPED_SKILLS
from coda_jupyter.setup.service import SetupService
from coda_jupyter.setup.skill_packs import parse_source

SHA = "0123456789abcdef0123456789abcdef01234567"
SKILL = "---\nname: {name}\ndescription: A test skill called {name}, used by the skill pack tests.\n---\n\nBody.\n"
SHIPPED = {path.parent.name for path in SHIPPED_SKILLS.glob("*/SKILL.md")}


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"git": "https://example.com/skills.git"}, "commit"),
        ({"git": "https://example.com/skills.git", "commit": "main"}, "full commit id"),
        ({"git": "https://example.com/skills.git", "commit": SHA[:12]}, "full commit id"),
        ({"pip": "my-skills"}, "name==version"),
        ({"pip": "my-skills>=1.0"}, "name==version"),
        ({"pip": "my-skills==1.*"}, "name==version"),
        ({"npm": "my-skills"}, "name@version"),
        ({"npm": "my-skills@^1.2.0"}, "name@version"),
        ({"npm": "my-skills@latest"}, "name@version"),
        ({"pip": "a==1", "npm": "b@1.0.0"}, "exactly one of"),
        ({"git": "https://example.com/skills.git", "commit": SHA, "branch": "main"}, "unknown field"),
        ({}, "exactly one of"),
    ],
)
def test_unpinned_or_malformed_sources_are_refused(entry: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_source(entry)


def test_pinned_sources_are_accepted() -> None:
    assert parse_source({"git": "https://example.com/s.git", "commit": SHA.upper()}).pin == SHA
    assert parse_source({"pip": "my_skills==1.0.0rc1", "index_url": "https://pypi.example/simple"}).pin == "1.0.0rc1"
    assert parse_source({"npm": "@acme/skills@2.3.4-beta.1"}).name == "@acme/skills"


# ------------------------------------------------------------------ sources


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def git_pack(tmp_path: Path) -> tuple[str, str]:
    """A repository whose pinned commit has ``pack-alpha``; a later commit adds ``pack-later``."""
    repo = tmp_path / "git-pack"
    (repo / "skills" / "pack-alpha").mkdir(parents=True)
    (repo / "skills" / "pack-alpha" / "SKILL.md").write_text(SKILL.format(name="pack-alpha"))
    (repo / "README.md").write_text("a skill pack\n")
    git("init", "-q", "-b", "main", cwd=repo)
    identity = ("-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "core.hooksPath=/dev/null")
    git("add", ".", cwd=repo)
    git(*identity, "commit", "-q", "-m", "first", cwd=repo)
    pinned = git("rev-parse", "HEAD", cwd=repo)
    (repo / "skills" / "pack-later").mkdir()
    (repo / "skills" / "pack-later" / "SKILL.md").write_text(SKILL.format(name="pack-later"))
    git("add", ".", cwd=repo)
    git(*identity, "commit", "-q", "-m", "second", cwd=repo)
    return f"file://{repo}", pinned


def wheel(folder: Path, name: str, version: str, skills: list[str]) -> Path:
    """A real wheel (zip with .dist-info METADATA, WHEEL and RECORD) holding skill folders as package data."""
    module = name.replace("-", "_")
    files = {f"{module}/__init__.py": b""}
    for skill in skills:
        files[f"{module}/skills/{skill}/SKILL.md"] = SKILL.format(name=skill).encode()
    info = f"{module}-{version}.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: coda-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in files.items():
            archive.writestr(member, data)
    return path


@pytest.fixture
def pip_index(tmp_path: Path) -> Iterator[str]:
    """``python -m http.server`` over ``simple/<project>/``: 1.0.0 has ``pack-beta``, 2.0.0 ``pack-beta-two``."""
    root = tmp_path / "index"
    project = root / "simple" / "coda-test-skills"
    project.mkdir(parents=True)
    wheel(project, "coda-test-skills", "1.0.0", ["pack-beta"])
    wheel(project, "coda-test-skills", "2.0.0", ["pack-beta-two"])
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        match = re.search(r"port (\d+)", server.stdout.readline())
        assert match, "http.server did not say where it listens"
        yield f"http://127.0.0.1:{match.group(1)}/simple/"
    finally:
        server.kill()
        server.wait()


@pytest.fixture
def npm_registry(tmp_path: Path) -> Iterator[str]:
    """A registry stand-in for ``@coda-test/skills``: 1.0.0 has ``pack-gamma``, 2.0.0 ``pack-gamma-two``.

    What npm asks of a registry (docs.npmjs.com, registry API): ``GET /<name>``
    (the scoped name with ``/`` as ``%2f``) answers the package document, whose
    ``versions[v].dist`` names the tarball URL and its ``integrity``
    (sha512, checked by npm) and ``shasum``; then ``GET`` of that URL.
    """
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    tarballs: dict[str, bytes] = {}
    for version, skill in (("1.0.0", "pack-gamma"), ("2.0.0", "pack-gamma-two")):
        source = tmp_path / f"npm-src-{version}"
        (source / "skills" / skill).mkdir(parents=True)
        (source / "skills" / skill / "SKILL.md").write_text(SKILL.format(name=skill))
        (source / "package.json").write_text(json.dumps({"name": "@coda-test/skills", "version": version}))
        out = subprocess.run(
            ["npm", "pack", "--json", "--pack-destination", str(tmp_path)],
            cwd=source,
            check=True,
            capture_output=True,
            text=True,
        )
        filename = json.loads(out.stdout)[0]["filename"]
        tarballs[version] = (tmp_path / filename).read_bytes()

    class Registry(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = f"http://127.0.0.1:{self.server.server_address[1]}"
            if self.path.lower() in ("/@coda-test%2fskills", "/@coda-test/skills"):
                versions = {
                    version: {
                        "name": "@coda-test/skills",
                        "version": version,
                        "dist": {
                            "tarball": f"{host}/@coda-test/skills/-/skills-{version}.tgz",
                            "shasum": hashlib.sha1(data).hexdigest(),
                            "integrity": "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode(),
                        },
                    }
                    for version, data in tarballs.items()
                }
                document = {"name": "@coda-test/skills", "dist-tags": {"latest": "2.0.0"}, "versions": versions}
                return self._send(json.dumps(document).encode(), "application/json")
            for version, data in tarballs.items():
                if self.path == f"/@coda-test/skills/-/skills-{version}.tgz":
                    return self._send(data, "application/octet-stream")
            self.send_error(404)

        def _send(self, body: bytes, content_type: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ through setup


def service(tmp_path: Path, home: Path, sources: list[dict[str, Any]]) -> SetupService:
    def context() -> ConfigContext:
        return ConfigContext(home=home, data_dir=tmp_path / "data")

    return SetupService(
        [],
        tmp_path / "state",
        credentials_present=lambda: False,
        local_mode=True,
        terminal_path="/usr/local/bin:/usr/bin:/bin",
        context=context,
        config=Config({"SetupService": {"builtin": False, "skill_sources": sources}}),
    )


async def settle(setup: SetupService) -> dict[str, dict[str, Any]]:
    setup.start()
    try:
        snapshot = await setup.engine.wait_settled(timeout=240)
    finally:
        await setup.stop()
    # The snapshot has no outcome line ("installed ..."); the engine keeps it.
    return {step["id"]: {**step, "outcome": setup.engine.outcome(step["id"])} for step in snapshot["steps"]}


def linked(home: Path) -> dict[str, set[str]]:
    return {
        folder: {p.name for p in (home / folder).iterdir() if (p / "SKILL.md").is_file()}
        for folder in (".claude/skills", ".agents/skills")
    }


@pytest.mark.asyncio
@pytest.mark.timeout(600)
async def test_pinned_packs_install_through_setup_and_reach_every_agent(
    tmp_path: Path, git_pack: tuple[str, str], pip_index: str, npm_registry: str
) -> None:
    url, commit = git_pack
    home = tmp_path / "home"
    sources = [
        {"git": url, "commit": commit},
        {"pip": "coda-test-skills==1.0.0", "index_url": pip_index},
        {"npm": "@coda-test/skills@1.0.0", "registry": npm_registry},
        {"pip": "coda-test-skills>=1"},
    ]
    steps = await settle(service(tmp_path, home, sources))

    packs = [steps[f"skill-pack-{n}"] for n in (1, 2, 3, 4)]
    assert [step["status"] for step in packs] == ["done", "done", "done", "failed"], steps
    assert "not pinned" in packs[3]["error"] and "name==version" in packs[3]["error"], packs[3]
    assert "coda-test-skills>=1" in packs[3]["label"]
    # Each pack's skills, at the pinned commit or version only, sit where the shipped skills are.
    expected = SHIPPED | {"pack-alpha", "pack-beta", "pack-gamma"}
    assert linked(home) == {".claude/skills": expected, ".agents/skills": expected}
    assert (home / ".claude" / "skills" / "pack-beta" / "SKILL.md").read_text() == SKILL.format(name="pack-beta")

    # A second start finds everything in place.
    again = await settle(service(tmp_path, home, sources))
    assert [again[f"skill-pack-{n}"]["status"] for n in (1, 2, 3)] == ["done"] * 3
    assert all(again[f"skill-pack-{n}"]["outcome"].startswith("already installed") for n in (1, 2, 3)), again

    # A pack removed from the configuration takes its skills with it.
    await settle(service(tmp_path, home, sources[:1]))
    assert linked(home)[".agents/skills"] == SHIPPED | {"pack-alpha"}


@pytest.mark.asyncio
async def test_a_pack_without_skills_fails_with_the_reason(tmp_path: Path) -> None:
    repo = tmp_path / "empty"
    repo.mkdir()
    (repo / "README.md").write_text("nothing here\n")
    git("init", "-q", cwd=repo)
    git("add", ".", cwd=repo)
    git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "-m", "x", cwd=repo)
    sources = [{"git": f"file://{repo}", "commit": git("rev-parse", "HEAD", cwd=repo)}]
    steps = await settle(service(tmp_path, tmp_path / "home", sources))
    assert steps["skill-pack-1"]["status"] == "failed"
    assert "no SKILL.md" in steps["skill-pack-1"]["error"]


# ------------------------------------------------------------------ through a real server


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], git_pack: tuple[str, str]) -> dict[str, Any]:
    url, commit = git_pack
    # Beside the shared config's SetupService settings (no built-in installs).
    jp_server_config["SetupService"] = {
        **jp_server_config.get("SetupService", {}),
        "skill_sources": [{"git": url, "commit": commit}, {"npm": "left-pad"}],
    }
    # Links in HOME, as a Databricks App or write_user_configs has them (locally
    # they go to the overlay: tests/local).
    jp_server_config["AgentConfig"] = {"write_user_configs": True}
    return jp_server_config


# Not marked asyncio: pytest-jupyter runs server tests on the server's own loop.
async def test_server_config_skill_sources_install_at_start(jp_fetch: Any, jp_home_dir: Path) -> None:
    deadline = time.monotonic() + 120
    while True:
        snapshot = json.loads((await jp_fetch("coda", "api", "setup")).body)
        steps = {step["id"]: step for step in snapshot["steps"]}
        if not any(step["status"] in ("pending", "running") for step in steps.values()):
            break
        assert time.monotonic() < deadline, snapshot
        await asyncio.sleep(0.2)
    assert {"skill-pack-1", "skill-pack-2"} <= set(steps), steps
    assert steps["skill-pack-1"]["status"] == "done", steps
    assert steps["skill-pack-2"]["status"] == "failed"
    assert "not pinned" in steps["skill-pack-2"]["error"] and "name@version" in steps["skill-pack-2"]["error"]
    assert (Path(jp_home_dir) / ".claude" / "skills" / "pack-alpha" / "SKILL.md").is_file()
