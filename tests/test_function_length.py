"""No function or method of the package is longer than 60 lines.

Counted from the ``def`` line (decorators aside) to the function's last line,
blank lines and comments inside included: what a reader has to hold at once.
Declarative data lives in module-level constants, which are not functions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import coda_jupyter

PACKAGE = Path(coda_jupyter.__file__).parent
LIMIT = 60

# "file relative to the package:qualified name" of functions allowed to be
# longer; empty, and meant to stay so.
ALLOWED: frozenset[str] = frozenset()


def long_functions(source: str) -> Iterator[tuple[str, int]]:
    """(qualified name, length in lines) of every function over ``LIMIT`` lines."""

    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + child.name
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > LIMIT:
                    yield name, length
                yield from visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, prefix + child.name + ".")
            else:
                yield from visit(child, prefix)

    yield from visit(ast.parse(source), "")


def test_no_function_over_the_limit() -> None:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        for name, length in long_functions(path.read_text(encoding="utf-8")):
            found[f"{relative}:{name}"] = length
    too_long = {name: length for name, length in found.items() if name not in ALLOWED}
    assert too_long == {}, "\n".join(f"{name}: {length} lines" for name, length in sorted(too_long.items()))
    assert set(found) >= ALLOWED, f"no longer too long, drop from ALLOWED: {sorted(ALLOWED - set(found))}"


def test_the_count_runs_from_def_to_the_last_line() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT - 1))
    assert list(long_functions(f"@decorator\ndef fits():\n{body}")) == []
    source = (
        f"class A:\n    def method(self):\n    {body.replace(chr(10) + '    ', chr(10) + '        ')}        y = 0\n"
    )
    assert list(long_functions(source)) == [("A.method", LIMIT + 1)]
