"""Browser tests must really wait: no ``wait_for_function`` on a Promise-returning predicate.

Playwright's ``wait_for_function`` polls until its predicate returns something
truthy and does not await it, so an ``async`` predicate (or one that returns a
Promise) passes on the first poll whatever the page does. Such a test can
never fail. Poll a synchronous predicate, or ``page.evaluate`` the async
function in a loop and assert on its value.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).parent

# An async function or arrow, or a body that builds or chains a Promise.
_PROMISE_PREDICATE = re.compile(
    r"^\s*async\b|\basync\s+function\b|\basync\s*\(|\basync\s+\w+\s*=>|\bnew\s+Promise\b|\.then\s*\("
)


def _predicate_text(node: ast.expr) -> str | None:
    """The JavaScript source of a literal predicate (f-strings: their literal parts)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value for part in node.values if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    return None


def promise_predicates(source: str, filename: str) -> list[str]:
    """``file:line: predicate`` for each ``wait_for_function`` whose predicate returns a Promise."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "wait_for_function":
            continue
        expression = (
            node.args[0]
            if node.args
            else next((keyword.value for keyword in node.keywords if keyword.arg == "expression"), None)
        )
        text = _predicate_text(expression) if expression is not None else None
        if text is not None and _PROMISE_PREDICATE.search(text):
            found.append(f"{filename}:{node.lineno}: {text.strip()[:80]}")
    return found


def waiting_on(arguments: str) -> str:
    """The source line of a ``wait_for_function`` call; built here so this file holds no such call itself."""
    return f"page.{'wait_for_function'}({arguments})"


def test_the_check_recognises_promise_predicates() -> None:
    flagged = [
        waiting_on("\"async () => (await navigator.clipboard.readText()) === 'hi'\""),
        waiting_on("'  async function () { return true; }'"),
        waiting_on('expression="x => fetch(x).then(r => r.ok)", arg="/"'),
        waiting_on('"() => new Promise(r => setTimeout(() => r(false), 10))"'),
        waiting_on('f"async (sel) => document.querySelector({1!r})"'),
    ]
    for line in flagged:
        assert promise_predicates(line, "t.py"), line
    fine = [
        waiting_on("\"() => document.title === 'x'\""),
        waiting_on("\"(sel) => (document.querySelector(sel)?.textContent ?? '').includes('async')\""),
        waiting_on("predicate"),
    ]
    for line in fine:
        assert not promise_predicates(line, "t.py"), line


def test_no_test_waits_on_a_promise() -> None:
    found = [
        hit
        for path in sorted(TESTS.rglob("*.py"))
        for hit in promise_predicates(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS.parent)))
    ]
    assert not found, "wait_for_function predicates that return a Promise pass at once:\n" + "\n".join(found)
