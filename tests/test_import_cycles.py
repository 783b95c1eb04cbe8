"""No module of the package imports itself back, through any chain, and no two subpackages import each other.

Every import counts: module level, inside functions and under TYPE_CHECKING.
A cycle that only closes through a function-local import is still a cycle in
the design; hiding it from the interpreter does not remove it.

A service reaches another through what the app hands it at start, never
through the app, so no import needs to point back.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import coda_jupyter

PACKAGE = Path(coda_jupyter.__file__).parent
NAME = PACKAGE.name


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The package modules ``module`` imports, anywhere in its text."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            origin = ".".join([*base, *([node.module] if node.module else [])])
            # ``from pkg import name`` imports the submodule ``pkg.name`` when there is one.
            targets = [
                f"{origin}.{alias.name}" if f"{origin}.{alias.name}" in known else origin for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target not in known and "." in target:
                target = target.rsplit(".", 1)[0]
            if target in known and target != module:
                yield target


def import_graph() -> dict[str, set[str]]:
    known = modules()
    return {module: set(imported(module, path, known)) for module, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "(top)"


def test_no_module_imports_itself_back() -> None:
    assert [sorted(cycle) for cycle in cycles(import_graph())] == []


def test_no_two_subpackages_import_each_other() -> None:
    edges = {
        (subpackage(module), subpackage(target))
        for module, targets in import_graph().items()
        for target in targets
        if subpackage(module) != subpackage(target)
    }
    mutual = {tuple(sorted(edge)) for edge in edges if (edge[1], edge[0]) in edges}
    assert mutual == set()


def test_the_graph_sees_function_local_and_type_checking_imports() -> None:
    graph = import_graph()
    # The MCP server names the notebook service only under TYPE_CHECKING.
    assert "coda_jupyter.notebooks.service" in graph["coda_jupyter.mcp"]
    # It loads the protocol layer inside a function, on the first request.
    assert "coda_jupyter.mcp.tools" in graph["coda_jupyter.mcp"]
    # The extension point imports the app inside a function.
    assert "coda_jupyter.app" in graph["coda_jupyter"]
