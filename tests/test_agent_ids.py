"""Only the agent catalogue knows which agents exist.

Every other module of the package reaches an agent through ``AgentSpec``
(``coda_jupyter/agents/``), so adding, renaming or removing an agent touches
the catalogue alone. This scans the code outside ``agents/`` for a built-in
agent id as a word inside a string or an identifier; comments and docstrings
explaining behaviour are prose and may name an agent.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import coda_jupyter

PACKAGE = Path(coda_jupyter.__file__).parent
CATALOGUE = PACKAGE / "agents"
AGENT_IDS = ("claude", "codex", "gemini", "opencode", "hermes")
WORD = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(AGENT_IDS) + r")(?![A-Za-z0-9])")

# (file relative to the package, id): where the word names something other than the agent.
NOT_THE_AGENT = {
    # The model gateway's route for Google's Gemini API (``/gemini`` on the AI
    # Gateway): an upstream API family, like "anthropic" and "openai".
    ("gateway/routes.py", "gemini"),
}


def _docstring_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                first = body[0]
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def agent_ids_in(source: str) -> Iterator[tuple[int, str]]:
    """(line, id) for every id inside a string or an identifier, docstrings aside."""
    docstrings = _docstring_lines(ast.parse(source))
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (tokenize.NAME, tokenize.STRING) or token.start[0] in docstrings:
            continue
        for match in WORD.finditer(token.string):
            yield token.start[0], match.group(1)


def test_no_agent_id_outside_the_catalogue() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.is_relative_to(CATALOGUE):
            continue
        relative = path.relative_to(PACKAGE).as_posix()
        for line, agent_id in agent_ids_in(path.read_text(encoding="utf-8")):
            if (relative, agent_id) not in NOT_THE_AGENT:
                found.append(f"{relative}:{line}: {agent_id}")
    assert found == [], "agent ids outside coda_jupyter/agents/:\n" + "\n".join(found)


def test_the_scan_sees_strings_and_identifiers_but_not_prose() -> None:
    source = '"""Runs claude."""\n# codex here\nx = "gemini"\nopencode_model = 1\npath = "~/.hermes"\nclaudette = 2\n'
    assert list(agent_ids_in(source)) == [(3, "gemini"), (4, "opencode"), (5, "hermes")]
