"""The lab extension's shape: one place for each id, one way to poll, one plugin per file.

These read the TypeScript sources as text (no TypeScript parser in Python); each
pattern is narrow and says what it looks for. Lints that ESLint can do (function
length, translated labels, described commands, formatting) are in
``labextension/eslint.config.mjs`` and run by ``make lint``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "labextension" / "src"

# Files other work still has to bring into this shape; each list may only shrink.
COMMAND_IDS_ELSEWHERE: frozenset[str] = frozenset()
INLINE_ACTIVATE: frozenset[str] = frozenset()
# The one exception kept on purpose: xterm.ts latches a once-per-page console
# warning (xterm's private API changed), which needs no owner to dispose it.
MODULE_STATE = frozenset({"terminal/xterm.ts"})

# A command id of this extension: `coda:` or `coda-terminal:` then words, in quotes.
COMMAND_ID = re.compile(r"""['"`](coda(?:-terminal)?:[a-z][a-z0-9-]*)['"`]""")
# A sidebar panel id of this extension.
PANEL_ID = re.compile(r"""['"`](coda-[a-z]+-panel)['"`]""")
# `activate:` followed by a function written in place (arrow or `function`).
INLINE_ACTIVATE_RE = re.compile(r"\bactivate:\s*(?:async\s*)?(?:\(|function\b)")
# A `let` or `var` at the top level of a module (column 0): state shared by every caller.
TOP_LEVEL_MUTABLE = re.compile(r"^(?:export\s+)?(?:let|var)\s+\w+", re.MULTILINE)


def sources(root: Path = SRC) -> dict[str, str]:
    """Every TypeScript source under ``root``, by path relative to it."""
    return {path.relative_to(root).as_posix(): path.read_text(encoding="utf-8") for path in sorted(root.rglob("*.ts"))}


def command_ids_outside_tokens(files: dict[str, str]) -> dict[str, list[str]]:
    return {name: found for name, text in files.items() if name != "tokens.ts" and (found := COMMAND_ID.findall(text))}


def panel_id_definitions(files: dict[str, str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, text in files.items():
        for panel in PANEL_ID.findall(text):
            found.setdefault(panel, []).append(name)
    return found


def inline_activates(files: dict[str, str]) -> set[str]:
    return {name for name, text in files.items() if INLINE_ACTIVATE_RE.search(text)}


def plugin_definitions(files: dict[str, str]) -> dict[str, int]:
    """How many plugin objects each file defines (``JupyterFrontEndPlugin<…> = {``)."""
    pattern = re.compile(r"JupyterFrontEndPlugin<[^>]*>\s*=\s*\{")
    return {name: count for name, text in files.items() if (count := len(pattern.findall(text)))}


def poll_misuse(files: dict[str, str]) -> dict[str, str]:
    """Files that poll some other way than ``poll.ts``, or start an interval they never clear."""
    problems = {}
    for name, text in files.items():
        if name != "poll.ts" and "new Poll(" in text:
            problems[name] = "builds its own lumino Poll"
        elif "setInterval(" in text and "clearInterval(" not in text:
            problems[name] = "starts an interval it never clears"
    return problems


def module_state(files: dict[str, str]) -> set[str]:
    return {name for name, text in files.items() if TOP_LEVEL_MUTABLE.search(text)}


def test_command_ids_are_written_only_in_tokens() -> None:
    elsewhere = command_ids_outside_tokens(sources())
    assert set(elsewhere) <= COMMAND_IDS_ELSEWHERE, elsewhere
    assert set(elsewhere) >= COMMAND_IDS_ELSEWHERE, "no longer retyped: drop from COMMAND_IDS_ELSEWHERE"


def test_each_panel_id_is_defined_once() -> None:
    twice = {panel: files for panel, files in panel_id_definitions(sources()).items() if files != ["tokens.ts"]}
    assert twice == {}


def test_index_only_lists_the_plugins_each_defined_in_its_own_file() -> None:
    files = sources()
    assert "index.ts" not in plugin_definitions(files)
    assert all(count == 1 for count in plugin_definitions(files).values()), plugin_definitions(files)


def test_every_plugin_has_a_named_activate_function() -> None:
    inline = inline_activates(sources())
    assert inline <= INLINE_ACTIVATE, inline
    assert inline >= INLINE_ACTIVATE, "activate is named now: drop from INLINE_ACTIVATE"


def test_the_server_is_polled_through_the_one_helper() -> None:
    assert poll_misuse(sources()) == {}


def test_no_module_level_mutable_state() -> None:
    found = module_state(sources())
    assert found <= MODULE_STATE, found
    assert found >= MODULE_STATE, "no module state left: drop from MODULE_STATE"


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("app.commands.addCommand('coda:open-agent', {", ["coda:open-agent"]),
        ("export const rename = 'coda-terminal:rename';", ["coda-terminal:rename"]),
        # Plugin ids, settings ids and icon names are not command ids.
        ("id: 'coda-jupyter:agents',", []),
        ("name: 'coda-jupyter:agents-panel'", []),
    ],
)
def test_command_id_pattern(text: str, ids: list[str]) -> None:
    assert COMMAND_ID.findall(text) == ids


def test_the_checks_catch_what_they_are_for() -> None:
    files = {
        "tokens.ts": "export const open = 'coda:open-agent';\nexport const agents = 'coda-agents-panel';",
        "a.ts": "let open = false;\nconst p = { activate: async (app) => {} };\nwindow.setInterval(f, 1000);",
        "b.ts": "this.id = 'coda-agents-panel';\nconst poll = new Poll({});\nfunction f() {\n  let x = 1;\n}",
    }
    assert command_ids_outside_tokens(files) == {}
    assert panel_id_definitions(files) == {"coda-agents-panel": ["tokens.ts", "b.ts"]}
    assert inline_activates(files) == {"a.ts"}
    assert poll_misuse(files) == {"a.ts": "starts an interval it never clears", "b.ts": "builds its own lumino Poll"}
    assert module_state(files) == {"a.ts"}
