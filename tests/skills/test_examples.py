"""Every fenced example of every shipped skill is checked against the real SDK, CLI tree and SQL parser.

The same checker runs on small broken skill trees, so each check is seen to fail.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from coda_jupyter.agents.writers.skills import SHIPPED_SKILLS

from .checker import Report, check_cli_args, check_skills, databricks_commands
from .cli_tree import COMMITTED, FileTree, LiveTree, current_tree, installed_cli, parse_help

FRONT = "---\nname: {name}\ndescription: Use when testing the example checker.\n---\n\n"


@pytest.fixture(scope="module")
def shipped() -> Report:
    return check_skills(SHIPPED_SKILLS, current_tree())


def test_every_shipped_example_is_valid(shipped: Report) -> None:
    assert not shipped.problems, "\n".join(map(str, shipped.problems))


def test_shipped_skills_cover_every_checked_language(shipped: Report) -> None:
    assert len(shipped.skills) >= 20
    for kind in ("python blocks", "sdk calls", "python imports", "cli commands", "sql statements"):
        assert shipped.checked[kind] > 0, kind


def test_skipped_checks_say_why(shipped: Report) -> None:
    # A package a skill imports but this machine lacks is reported as a skip, never silently passed.
    for reason in shipped.skipped:
        assert "is not installed here" in reason


def write_skill(root: Path, name: str, body: str, front: str | None = None) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text((FRONT.format(name=name) if front is None else front) + textwrap.dedent(body))


PY = "```python\nfrom databricks.sdk import WorkspaceClient\n\nw = WorkspaceClient()\n{}\n```\n"

BROKEN = {
    "unknown-service": (PY.format("w.jobz.list()"), "has no service 'jobz'"),
    "unknown-method": (PY.format("w.jobs.run_later(job_id=1)"), "has no method or sub-service 'run_later'"),
    "wrong-kwarg": (PY.format("w.jobs.run_now(job_id=1, cluster='x')"), "does not accept 'cluster'"),
    "missing-argument": (PY.format("w.catalogs.create()"), "missing a required argument: 'name'"),
    "wrong-dataclass-field": (
        "```python\nfrom databricks.sdk.service import jobs\n\njobs.Task(key='a')\n```\n",
        "does not accept 'key'",
    ),
    "unknown-enum-member": (
        "```python\nfrom databricks.sdk.service import catalog\n\nprivilege = catalog.Privilege.SELCT\n```\n",
        "Privilege has no attribute 'SELCT'",
    ),
    "bad-import": ("```python\nfrom databricks.sdk import WorkspaceKlient\n```\n", "cannot import 'WorkspaceKlient'"),
    "bad-mlflow-call": ("```python\nimport mlflow\n\nmlflow.start_runn()\n```\n", "has no attribute 'start_runn'"),
    "syntax-error": ("```python\nw = WorkspaceClient(\n```\n", "does not compile"),
    "unknown-cli-group": ("```bash\ndatabricks jobz list\n```\n", "unknown command 'databricks jobz'"),
    "unknown-cli-command": (
        "```bash\nid=$(databricks jobs run-later 1 --output json | jq .run_id)\n```\n",
        "unknown command 'databricks jobs run-later'",
    ),
    "cli-group-alone": ("```bash\ndatabricks bundle -t dev\n```\n", "'databricks bundle' needs a subcommand"),
    "invalid-sql": ("```sql\nSELEC id FROM main.sales.orders;\n```\n", "does not parse as Databricks SQL"),
    "opaque-sql": ("```sql\nCREATE WIDGET foo;\n```\n", "sqlglot could not parse"),
    "invalid-yaml": ("```yaml\nbundle:\n  name: [x\n```\n", "invalid YAML"),
    "unknown-mcp-tool": ('```json\n{"tool": "coda_launch", "arguments": {}}\n```\n', "no coda MCP tool 'coda_launch'"),
    "wrong-mcp-argument": (
        '```json\n{"tool": "coda_run", "arguments": {"prompt": "x", "agnet": "codex"}}\n```\n',
        "arguments coda_run rejects",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_example_is_reported(tmp_path: Path, name: str) -> None:
    body, expected = BROKEN[name]
    write_skill(tmp_path, name, body)
    report = check_skills(tmp_path, FileTree())
    assert len(report.problems) == 1, report.problems
    assert expected in str(report.problems[0]), str(report.problems[0])


FRONT_BROKEN = {
    "not-yaml": ("---\nname: [x\n---\n", "not valid YAML"),
    "name-differs": ("---\nname: other\ndescription: d\n---\n", "must equal the folder name"),
    "no-description": ("---\nname: no-description\n---\n", "description must be a non-empty string"),
    "no-front-matter": ("# Title\n", "must start with a '---'"),
}


@pytest.mark.parametrize("name", sorted(FRONT_BROKEN))
def test_bad_front_matter_is_reported(tmp_path: Path, name: str) -> None:
    front, expected = FRONT_BROKEN[name]
    write_skill(tmp_path, name, "text\n", front=front)
    (problem,) = check_skills(tmp_path, FileTree()).problems
    assert problem.kind == "front-matter" and expected in problem.message


def test_folder_without_skill_md_is_reported(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (problem,) = check_skills(tmp_path, FileTree()).problems
    assert problem.message == "no SKILL.md"


def test_problem_points_at_the_line(tmp_path: Path) -> None:
    write_skill(tmp_path, "lines", "Intro.\n\n" + PY.format("\nw.jobs.nope()"))
    (problem,) = check_skills(tmp_path, FileTree()).problems
    text = (tmp_path / "lines" / "SKILL.md").read_text().splitlines()
    assert "w.jobs.nope()" in text[problem.line - 1]


def test_clients_and_imports_carry_over_between_blocks(tmp_path: Path) -> None:
    body = PY.format("") + "\nThen:\n\n```python\nw.clusters.get(cluster_id='x')\nw.clusters.gett('x')\n```\n"
    write_skill(tmp_path, "cells", body)
    (problem,) = check_skills(tmp_path, FileTree()).problems
    assert "'gett'" in problem.message


def test_uninstalled_package_is_skipped_with_reason(tmp_path: Path) -> None:
    write_skill(tmp_path, "vs", "```python\nfrom databricks.not_a_real_package import Client\n```\n")
    report = check_skills(tmp_path, FileTree())
    assert not report.problems
    assert report.skipped == {"imports of databricks.not_a_real_package: the package is not installed here"}


def test_notebook_tool_calls_are_checked_against_their_arguments(tmp_path: Path) -> None:
    good = '```json\n{"tool": "coda_notebook_read", "arguments": {"path": "a.ipynb"}}\n```\n'
    bad = '```json\n{"tool": "coda_notebook_execute", "arguments": {"notebook": "a.ipynb"}}\n```\n'
    write_skill(tmp_path, "nb", good + bad)
    report = check_skills(tmp_path, FileTree())
    assert report.checked["mcp tool calls"] == 2
    assert [problem for problem in report.problems if "coda_notebook_execute" in str(problem)], report.problems


def test_shell_parsing_finds_every_invocation() -> None:
    script = textwrap.dedent(
        """\
        # databricks in a comment is ignored
        email=$(databricks current-user me --output json | jq -r .userName)
        echo "databricks is only a word here"
        databricks bundle deploy \\
          -t dev && databricks bundle run -t dev nightly
        cat > job.json <<'EOF'
        databricks not-a-command
        EOF
        DATABRICKS_CONFIG_PROFILE=dev databricks -p dev jobs list
        """
    )
    found = [args[:3] for _, args in databricks_commands(script)]
    assert found == [
        ["current-user", "me", "--output"],
        ["bundle", "deploy", "-t"],
        ["bundle", "run", "-t"],
        ["-p", "dev", "jobs"],
    ]


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["jobs", "list", "--limit", "5"], None),
        (["-p", "dev", "--output", "json", "jobs", "get", "123"], None),
        (["bundle", "deployment", "bind", "job_a", "123"], None),
        (["bundle", "--help"], None),
        (["fs", "cp", "a", "dbfs:/b"], None),
        (["jobs", "$cmd"], "is followed by '$cmd', not a subcommand"),
        (["bundle", "deployment", "rebind"], "unknown command 'databricks bundle deployment rebind'"),
        ([], "'databricks' needs a subcommand"),
    ],
)
def test_cli_paths_against_the_committed_tree(args: list[str], why: str | None) -> None:
    result = check_cli_args(args, FileTree())
    assert result == why if why is None else why in (result or "")


HELP = """\
Databricks CLI

Usage:
  databricks [command]

Databricks Workspace
  fs                                     Filesystem related commands
  workspace                              The Workspace API allows you to list.

Additional Commands:
  api                                    Perform Databricks API call
  help                                   Help about any command

Flags:
  -h, --help             help for databricks
  -p, --profile string   ~/.databrickscfg profile

Use "databricks [command] --help" for more information about a command.
"""


def test_help_parser_reads_grouped_cobra_help() -> None:
    assert parse_help(HELP) == ["fs", "workspace", "api", "help"]
    assert parse_help("Usage:\n  databricks jobs list [flags]\n\nFlags:\n  -h, --help   help\n") == []


def test_committed_tree_says_where_it_comes_from() -> None:
    header = COMMITTED.read_text().split("\n\n")[0]
    assert "1.12.1" in header and "python -m tests.skills.cli_tree" in header


def test_committed_tree_matches_the_installed_cli() -> None:
    found = installed_cli()
    if found is None:
        pytest.skip("no Databricks CLI >= 0.200 on PATH; the shipped examples were checked against the committed tree")
    live, committed = LiveTree(found), FileTree()
    missing = []
    for line in COMMITTED.read_text().splitlines():
        words = tuple(line.split())
        if words and not words[0].startswith("#") and words[-1] not in live.children(words[:-1]):
            missing.append(line)
    assert not missing, f"commands in {committed.source} that {live.source} lacks: {missing}"


FS_HELP = """\
Commands to do file system operations on DBFS and UC Volumes.

Usage:
  databricks fs [command]

Available Commands:
  cat         Show file content.
  cp          Copy files and directories.

Flags:
  -h, --help   help for fs

Global Flags:
      --debug            enable debug logging
"""


def fake_cli(folder: Path, version_line: str) -> None:
    """A stand-in ``databricks`` printing cobra help in the layout of the CLI's own help output."""
    folder.mkdir()
    (folder / "root.txt").write_text(HELP)
    (folder / "fs.txt").write_text(FS_HELP)
    script = folder / "databricks"
    script.write_text(
        "#!/bin/sh\n"
        f'case "$*" in\n  --version) echo "{version_line}" ;;\n'
        f'  --help) cat "{folder}/root.txt" ;;\n'
        f'  "fs --help") cat "{folder}/fs.txt" ;;\n'
        '  *) echo "Usage:\n  databricks $*" ;;\nesac\n'
    )
    script.chmod(0o755)


def test_installed_cli_gives_the_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cli(tmp_path / "bin", "Databricks CLI v1.12.1")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    tree = current_tree()
    assert isinstance(tree, LiveTree) and "1, 12, 1" in tree.source
    assert check_cli_args(["fs", "cp", "a", "b"], tree) is None
    assert check_cli_args(["fs", "mv"], tree) == "unknown command 'databricks fs mv'"


def test_legacy_python_cli_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cli(tmp_path / "bin", "Version 0.18.0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert installed_cli() is None
    assert isinstance(current_tree(), FileTree)
