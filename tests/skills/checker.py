"""Checks every fenced example of every skill against the real tools it names.

- front matter: YAML, ``name`` equal to the folder name, a non-empty ``description``;
- python: compiles; ``w.<service>.<method>(...)`` on a WorkspaceClient exists in the
  installed databricks-sdk and accepts the arguments given; imports of databricks.* and
  mlflow resolve (skipped, with the reason, when the package is not installed), and calls
  through what they import accept the arguments given;
- bash: every ``databricks ...`` command path exists in the CLI's command tree;
- sql: every statement parses in sqlglot's Databricks dialect;
- json / yaml: parse; a JSON coda MCP tool call is validated against the tool's arguments.

Blocks of one SKILL.md share their Python names in document order, like notebook cells.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import logging
import re
import shlex
import typing
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import sqlglot
import yaml
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from coda_jupyter.mcp import tools as coda_tools
from coda_jupyter.mcp.notebook_tools import notebook_tool_defs

from .cli_tree import CommandTree

# Imports under these roots are checked; databricks.* counts per distribution
# (databricks.sdk, databricks.connect, ...), since they install separately.
CHECKED_IMPORT_ROOTS = ("databricks", "mlflow")

# Notebook tools the notebook skill documents before the server has them; they are
# accepted by name only. Once they exist they should move to the real tool list.

# Databricks statements sqlglot keeps as an opaque Command instead of parsing. Only
# these leading keywords may fall back; anything else that falls back is reported.
OPAQUE_SQL_PREFIXES = (
    "ALTER CATALOG",
    "ALTER SCHEMA",
    "ALTER TABLE",
    "ALTER VOLUME",
    "CREATE CATALOG",
    "CREATE VOLUME",
    "DROP CATALOG",
    "DROP VOLUME",
    "GRANT",
    "OPTIMIZE",
    "REVOKE",
    "SHOW",
    "VACUUM",
)

# Global flags of the Databricks CLI and whether they take a value.
_CLI_GLOBAL_FLAGS = {
    "-p": True,
    "--profile": True,
    "-o": True,
    "--output": True,
    "-t": True,
    "--target": True,
    "--log-level": True,
    "--log-file": True,
    "--log-format": True,
    "--debug": False,
}
_CLI_WORD = re.compile(r"^[a-z][a-z0-9-]*$")
_COMMAND_START = {
    None,
    "|",
    "||",
    "&&",
    ";",
    "(",
    ")",
    "&",
    "!",
    "{",
    "then",
    "do",
    "else",
    "elif",
    "if",
    "while",
    "until",
    "time",
    "exec",
}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SUBSTITUTION = re.compile(r"\$\(([^()]*)\)")
_HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")
_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

LANGUAGES = {
    "python": "python",
    "py": "python",
    "bash": "bash",
    "sh": "bash",
    "shell": "bash",
    "sql": "sql",
    "json": "json",
    "yaml": "yaml",
    "yml": "yaml",
}


@dataclass(frozen=True)
class Problem:
    skill: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.skill}/SKILL.md:{self.line} [{self.kind}] {self.message}"


@dataclass
class Report:
    skills: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    blocks: Counter[str] = field(default_factory=Counter)
    checked: Counter[str] = field(default_factory=Counter)
    skipped: set[str] = field(default_factory=set)

    def add(self, skill: str, line: int, kind: str, message: str) -> None:
        self.problems.append(Problem(skill, line, kind, message))


@dataclass(frozen=True)
class Block:
    language: str
    line: int  # 1-based line of the block's first content line
    text: str


def check_skills(root: Path, cli: CommandTree) -> Report:
    """Check every ``<root>/<skill>/SKILL.md``; a folder without one is a problem too."""
    report = Report()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        report.skills.append(folder.name)
        skill_md = folder / "SKILL.md"
        if not skill_md.is_file():
            report.add(folder.name, 0, "front-matter", "no SKILL.md")
            continue
        text = skill_md.read_text()
        _check_front_matter(folder.name, text, report)
        python = _PythonScope(folder.name, report)
        for block in fenced_blocks(text):
            report.blocks[block.language] += 1
            if block.language == "python":
                python.check(block)
            elif block.language == "bash":
                _check_bash(folder.name, block, cli, report)
            elif block.language == "sql":
                _check_sql(folder.name, block, report)
            elif block.language == "json":
                _check_json(folder.name, block, report)
            elif block.language == "yaml":
                _check_yaml(folder.name, block, report)
    return report


def fenced_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence, info = opening.groups()
        body: list[str] = []
        start = index + 2
        index += 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            line = lines[index]
            body.append(line[len(indent) :] if line.startswith(indent) else line)
            index += 1
        index += 1
        language = LANGUAGES.get(info.lower(), info.lower() or "text")
        blocks.append(Block(language, start, "\n".join(body) + "\n"))
    return blocks


# -- front matter ----------------------------------------------------------------


def _check_front_matter(skill: str, text: str, report: Report) -> None:
    if not text.startswith("---\n"):
        report.add(skill, 1, "front-matter", "SKILL.md must start with a '---' YAML front matter block")
        return
    end = text.find("\n---\n", 3)
    if end < 0:
        report.add(skill, 1, "front-matter", "front matter is not closed by a '---' line")
        return
    try:
        front = yaml.safe_load(text[4:end])
    except yaml.YAMLError as err:
        report.add(skill, 1, "front-matter", f"front matter is not valid YAML: {err}")
        return
    if not isinstance(front, dict):
        report.add(skill, 1, "front-matter", "front matter must be a mapping")
        return
    name = front.get("name")
    if name != skill:
        report.add(skill, 1, "front-matter", f"name {name!r} must equal the folder name {skill!r}")
    elif not _NAME.match(skill):
        report.add(skill, 1, "front-matter", f"name {skill!r} must be lower-case words joined by '-'")
    description = front.get("description")
    if not isinstance(description, str) or not description.strip():
        report.add(skill, 1, "front-matter", "description must be a non-empty string")
    elif len(description) > 1024:
        report.add(skill, 1, "front-matter", "description must be at most 1024 characters")


# -- python ----------------------------------------------------------------------


class _PythonScope:
    """Names bound by the Python blocks of one skill so far, and the checks of their calls."""

    def __init__(self, skill: str, report: Report):
        self.skill = skill
        self.report = report
        self.bound: dict[str, Any] = {}  # name -> module, class or function it was imported as
        self.clients: set[str] = set()  # names holding a WorkspaceClient
        self._callees: set[int] = set()  # ids of the nodes called in the current block

    def check(self, block: Block) -> None:
        try:
            tree = ast.parse(block.text)
        except SyntaxError as err:
            self._problem(block, err.lineno or 1, "python", f"does not compile: {err.msg}")
            return
        self.report.checked["python blocks"] += 1
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self._imports(block, node)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
                if self._resolve_plain(node.value.func) is _workspace_client():
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    self.clients.update(t.id for t in targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.arg) and _annotation_name(node.annotation) == "WorkspaceClient":
                self.clients.add(node.arg)
        inner = {id(node.value) for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        self._callees = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                self._call(block, node)
            elif isinstance(node, ast.Attribute) and id(node) not in inner:
                self._attribute_chain(block, node)

    def _problem(self, block: Block, lineno: int, kind: str, message: str) -> None:
        self.report.add(self.skill, block.line + lineno - 1, kind, message)

    def _imports(self, block: Block, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                module = self._module(block, node.lineno, alias.name)
                if module is not None:
                    top = alias.name.split(".")[0]
                    self.bound[alias.asname or top] = module if alias.asname else importlib.import_module(top)
            return
        if node.level or node.module is None:
            return
        module = self._module(block, node.lineno, node.module)
        if module is None:
            return
        for alias in node.names:
            if alias.name == "*":
                continue
            try:
                value = _attribute(module, alias.name)
            except AttributeError:
                self._problem(block, node.lineno, "import", f"cannot import {alias.name!r} from {node.module}")
                continue
            self.bound[alias.asname or alias.name] = value

    def _module(self, block: Block, lineno: int, name: str) -> ModuleType | None:
        """The imported module if it is one we check and its package is installed."""
        parts = name.split(".")
        if parts[0] not in CHECKED_IMPORT_ROOTS:
            return None
        package = ".".join(parts[:2]) if parts[0] == "databricks" and len(parts) > 1 else parts[0]
        try:
            installed = importlib.util.find_spec(package) is not None
        except ModuleNotFoundError:
            installed = False
        if not installed:
            self.report.skipped.add(f"imports of {package}: the package is not installed here")
            return None
        self.report.checked["python imports"] += 1
        try:
            return importlib.import_module(name)
        except ImportError as err:
            self._problem(block, lineno, "import", f"cannot import {name}: {err}")
            return None

    def _resolve_plain(self, node: ast.expr) -> Any:
        """What a name or dotted name refers to, through the imports; None if unknown."""
        chain = _chain(node)
        if chain is None or chain[0] not in self.bound:
            return None
        value = self.bound[chain[0]]
        for attr in chain[1:]:
            try:
                value = _attribute(value, attr)
            except AttributeError:
                return None
        return value

    def _call(self, block: Block, call: ast.Call) -> None:
        chain = _chain(call.func)
        if chain is None:
            return
        if chain[0] in self.clients and len(chain) > 1:
            self.report.checked["sdk calls"] += 1
            self._client_call(block, call, chain)
        elif chain[0] in self.bound:
            self._imported_call(block, call, chain)

    def _client_call(self, block: Block, call: ast.Call, chain: list[str]) -> None:
        owner: Any = _workspace_client()
        shown = chain[0]
        for position, attr in enumerate(chain[1:], start=1):
            try:
                member = inspect.getattr_static(owner, attr)
            except AttributeError:
                what = "service" if position == 1 else "method or sub-service"
                self._problem(
                    block,
                    call.lineno,
                    "sdk",
                    f"{shown}.{attr}: {owner.__name__} has no {what} {attr!r} in databricks-sdk {_sdk_version()}",
                )
                return
            shown = f"{shown}.{attr}"
            if isinstance(member, property):
                owner = typing.get_type_hints(member.fget).get("return")
                if not inspect.isclass(owner):
                    return
                continue
            if inspect.isfunction(member) and position == len(chain) - 1:
                self._arguments(block, call, shown, member, drop_self=True)
            return
        self._problem(block, call.lineno, "sdk", f"{shown}(...) calls a service, not a method")

    def _attribute_chain(self, block: Block, node: ast.Attribute) -> None:
        """``catalog.Privilege.SELECT``: a name reached through an import must exist (calls are checked apart)."""
        chain = _chain(node)
        if chain is not None and chain[0] in self.bound and not self._is_called(node):
            self._resolve_imported(block, node.lineno, chain)

    def _is_called(self, node: ast.Attribute) -> bool:
        return id(node) in self._callees

    def _resolve_imported(self, block: Block, lineno: int, chain: list[str]) -> tuple[bool, Any]:
        value = self.bound[chain[0]]
        for attr in chain[1:]:
            try:
                value = _attribute(value, attr)
            except AttributeError:
                name = getattr(value, "__name__", type(value).__name__)
                self._problem(block, lineno, "python", f"{'.'.join(chain)}: {name} has no attribute {attr!r}")
                return False, None
        return True, value

    def _imported_call(self, block: Block, call: ast.Call, chain: list[str]) -> None:
        found, value = self._resolve_imported(block, call.lineno, chain)
        if found and callable(value) and not isinstance(value, ModuleType):
            self.report.checked["library calls"] += 1
            self._arguments(block, call, ".".join(chain), value, drop_self=False)

    def _arguments(self, block: Block, call: ast.Call, shown: str, target: Any, drop_self: bool) -> None:
        try:
            signature = inspect.signature(target)
        except (TypeError, ValueError):
            return
        if drop_self:
            signature = signature.replace(parameters=list(signature.parameters.values())[1:])
        names = [k.arg for k in call.keywords if k.arg is not None]
        star = any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)
        params = signature.parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            accepted = None
        else:
            accepted = {n for n, p in params.items() if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
        unknown = [n for n in names if accepted is not None and n not in accepted]
        if unknown:
            allowed = ", ".join(sorted(accepted or ())) or "none"
            self._problem(
                block,
                call.lineno,
                "sdk" if drop_self else "python",
                f"{shown}() does not accept {', '.join(map(repr, unknown))} (accepts: {allowed})",
            )
            return
        if star:
            return
        try:
            signature.bind(*[None] * len(call.args), **dict.fromkeys(names))
        except TypeError as err:
            self._problem(block, call.lineno, "sdk" if drop_self else "python", f"{shown}(): {err}")


def _chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None when the root is not a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _annotation_name(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _attribute(value: Any, attr: str) -> Any:
    """``getattr`` that also imports a submodule of a package that is not loaded yet."""
    try:
        return getattr(value, attr)
    except AttributeError:
        if not isinstance(value, ModuleType):
            raise
        try:
            return importlib.import_module(f"{value.__name__}.{attr}")
        except ImportError:
            raise AttributeError(attr) from None


def _workspace_client() -> type:
    from databricks.sdk import WorkspaceClient

    return WorkspaceClient


def _sdk_version() -> str:
    from databricks.sdk.version import __version__

    return __version__


# -- bash ------------------------------------------------------------------------


def databricks_commands(script: str) -> list[tuple[int, list[str]]]:
    """Each ``databricks`` invocation in a shell script: (1-based line, its arguments)."""
    found: list[tuple[int, list[str]]] = []
    lines = script.splitlines()
    index = 0
    heredoc: str | None = None
    while index < len(lines):
        lineno = index + 1
        line = lines[index]
        index += 1
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        while line.endswith("\\") and index < len(lines):
            line = line[:-1] + " " + lines[index]
            index += 1
        opens = _HEREDOC.search(line)
        if opens:
            heredoc = opens.group(1)
        pieces = [line]
        while True:
            inner = _SUBSTITUTION.search(pieces[0])
            if not inner:
                break
            pieces.append(inner.group(1))
            pieces[0] = pieces[0][: inner.start()] + "X" + pieces[0][inner.end() :]
        for piece in pieces:
            found.extend((lineno, args) for args in _invocations(piece))
    return found


def _invocations(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        tokens = list(lexer)
    except ValueError:
        return []
    found: list[list[str]] = []
    previous: str | None = None
    for position, token in enumerate(tokens):
        if token == "databricks" and previous in _COMMAND_START:
            args: list[str] = []
            for arg in tokens[position + 1 :]:
                if arg in {"|", "||", "&&", ";", "&", ")", ">", ">>", "<", "2>"}:
                    break
                args.append(arg)
            found.append(args)
        if not (_ASSIGNMENT.match(token) and previous in _COMMAND_START):
            previous = token
    return found


def check_cli_args(args: list[str], cli: CommandTree) -> str | None:
    """Why ``databricks <args>`` names no command of the tree, or None when it does."""
    path: tuple[str, ...] = ()
    wants_help = False
    skip_value = False
    for arg in args:
        if skip_value:
            skip_value = False
            continue
        if arg.startswith("-"):
            name = arg.split("=", 1)[0]
            if name in {"-h", "--help", "-v", "--version"}:
                wants_help = True
            if name in _CLI_GLOBAL_FLAGS:
                skip_value = _CLI_GLOBAL_FLAGS[name] and "=" not in arg
                continue
            break
        children = cli.children(path)
        if not children:
            break
        if arg not in children:
            shown = " ".join(("databricks", *path, arg))
            if not _CLI_WORD.match(arg):
                return f"'{' '.join(('databricks', *path))}' is followed by {arg!r}, not a subcommand"
            return f"unknown command '{shown}'"
        path = (*path, arg)
    if cli.children(path) and not wants_help:
        return f"'{' '.join(('databricks', *path))}' needs a subcommand"
    return None


def _check_bash(skill: str, block: Block, cli: CommandTree, report: Report) -> None:
    for lineno, args in databricks_commands(block.text):
        report.checked["cli commands"] += 1
        why = check_cli_args(args, cli)
        if why:
            report.add(skill, block.line + lineno - 1, "cli", f"{why} (command tree: {cli.source})")


# -- sql, json, yaml -------------------------------------------------------------


def _check_sql(skill: str, block: Block, report: Report) -> None:
    # sqlglot logs a warning for each statement it keeps as a Command; those are judged below.
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.ERROR)
    try:
        statements = sqlglot.parse(block.text, read="databricks", error_level=ErrorLevel.RAISE)
    except SqlglotError as err:
        report.add(skill, block.line, "sql", f"does not parse as Databricks SQL: {str(err).splitlines()[0]}")
        return
    finally:
        sqlglot_log.setLevel(level)
    for statement in statements:
        if statement is None:
            continue
        report.checked["sql statements"] += 1
        if isinstance(statement, exp.Command):
            text = " ".join(statement.sql(dialect="databricks").split()).upper()
            if not text.startswith(OPAQUE_SQL_PREFIXES):
                report.add(skill, block.line, "sql", f"sqlglot could not parse: {text[:80]}")


def _check_json(skill: str, block: Block, report: Report) -> None:
    try:
        value = json.loads(block.text)
    except json.JSONDecodeError as err:
        report.add(skill, block.line + err.lineno - 1, "json", f"invalid JSON: {err.msg}")
        return
    report.checked["json blocks"] += 1
    if isinstance(value, dict) and isinstance(value.get("tool"), str):
        _check_tool_call(skill, block, value, report)


def _no_service() -> Any:
    raise AssertionError("the checker only validates arguments; it never calls a tool")


def _check_tool_call(skill: str, block: Block, call: dict[str, Any], report: Report) -> None:
    """``{"tool": name, "arguments": {...}}``: a real coda tool must accept the arguments."""
    name = call["tool"]
    report.checked["mcp tool calls"] += 1
    definitions = [*coda_tools._definitions(["claude"], "claude"), *notebook_tool_defs(_no_service)]
    real = {tool.name: tool.args for tool in definitions}
    if name not in real:
        report.add(skill, block.line, "mcp", f"no coda MCP tool {name!r} (tools: {', '.join(sorted(real))})")
        return
    try:
        real[name].model_validate(call.get("arguments", {}))
    except ValueError as err:
        report.add(skill, block.line, "mcp", f"arguments {name} rejects: {str(err).splitlines()[0:3]}")


def _check_yaml(skill: str, block: Block, report: Report) -> None:
    try:
        list(yaml.safe_load_all(block.text))
    except yaml.YAMLError as err:
        report.add(skill, block.line, "yaml", f"invalid YAML: {err}")
        return
    report.checked["yaml blocks"] += 1
