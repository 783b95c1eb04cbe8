""" "Send to Agent…" from a notebook's error output and from the file browser, in Chromium.

The stub agent stands in for an interactive CLI: it reads lines from its
terminal and says what it got, so the test sees the prompt arrive as input
to the program, not only drawn on the screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from ..conftest import write_stub
from .conftest import lab_fixture
from .lab import Lab

# Like Claude Code, the stub takes a moment to start, then turns on bracketed
# paste (mode 2004, as send/target.ts says of Claude Code and Codex). xterm.js
# wraps a paste in ESC[200~ only once the program has turned that mode on, so a
# line that starts with it was pasted when the agent was ready: "GOT:"; any
# other line was typed (or pasted too early): "TYPED:".
STUB_CLAUDE = """if [ "$1" = "--version" ]; then echo "1.2.3 (Claude Code)"; exit 0; fi
sleep 2
printf '\\033[?2004h'
echo "stub claude ready"
start=$(printf '\\033[200~')
while IFS= read -r line; do
  case "$line" in
    "$start"*) echo "GOT: ${line#"$start"}" ;;
    *) echo "TYPED: $line" ;;
  esac
done
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from lab_fixture(tmp_path_factory, "send-to-agent", extra_args=["--LabApp.expose_app_in_browser=True"])


@pytest.fixture(autouse=True)
def _stub_claude(lab: Lab) -> None:
    write_stub(lab.home / ".local" / "bin", "claude", STUB_CLAUDE)


def agent_screen(page: Any, name: str) -> str:
    text: str = page.locator(f"#coda-agent-terminal-{name} .xterm-accessibility").inner_text()
    return re.sub(r"\s+", " ", text)


def wait_for_screen(page: Any, name: str, fragment: str) -> None:
    page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.textContent ?? '').replace(/\\s+/g, ' ').includes(text)",
        arg=[f"#coda-agent-terminal-{name} .xterm-accessibility", fragment],
        timeout=30_000,
    )


def agent_terminal_names(page: Any) -> list[str]:
    names: list[str] = page.eval_on_selector_all(
        "[data-coda-agent-terminal]", "nodes => nodes.map(n => n.dataset.codaAgentTerminal)"
    )
    return names


def open_failing_notebook(page: Any, lab: Lab) -> str:
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, str(lab.root / "failing.ipynb"))
    page.goto(lab.page_url("lab/tree/failing.ipynb?reset"))
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    cell = page.locator(".jp-NotebookPanel .jp-Cell").first
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').wait_for()
    cell_id: str = page.evaluate("() => window.jupyterapp.shell.currentWidget.content.model.cells.get(0).id")
    return cell_id


def test_an_error_goes_to_the_open_agent_as_a_prompt_naming_the_cell(page: Any, lab: Lab) -> None:
    cell_id = open_failing_notebook(page, lab)
    notebook_tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="failing.ipynb")
    page.evaluate("window.jupyterapp.commands.execute('coda:open-agent', {id: 'claude'}).then(() => null)")
    page.locator("[data-coda-agent-terminal]").first.wait_for()
    [name] = agent_terminal_names(page)
    wait_for_screen(page, name, "stub claude ready")

    notebook_tab.click()
    page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').click(button="right")
    page.locator(".lm-Menu-item", has_text="Send Error to Agent…").click()
    dialog = page.locator(".jp-Dialog")
    assert dialog.locator("select option").first.inner_text() == "Claude Code"
    preview = dialog.locator(".coda-SendToAgent-preview").inner_text()
    dialog.get_by_role("button", name="Send").click()

    expected = (
        f'In the notebook "failing.ipynb", cell {cell_id} (index 0) failed with ZeroDivisionError: division by zero.'
    )
    assert preview.startswith(expected), preview
    wait_for_screen(page, name, expected)
    # Typed, not submitted: the user adds the request and presses Enter.
    assert "GOT:" not in agent_screen(page, name)
    page.keyboard.type("please")
    page.keyboard.press("Enter")
    wait_for_screen(page, name, f"GOT: {expected}")
    assert agent_screen(page, name).rstrip().endswith("fix it: please")


def test_a_file_goes_to_a_new_agent_once_it_is_ready(page: Any, lab: Lab) -> None:
    (lab.root / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    page.goto(lab.page_url())
    item = page.locator(".jp-DirListing-item", has_text="data.csv")
    item.click(button="right")
    page.locator(".lm-Menu-item", has_text="Send to Agent…").click()
    dialog = page.locator(".jp-Dialog")
    dialog.locator("select").select_option(label="New Claude Code")
    dialog.get_by_role("button", name="Send").click()

    page.locator("[data-coda-agent-terminal]").first.wait_for()
    [name] = agent_terminal_names(page)
    expected = 'About the file "data.csv" (paths from the Jupyter root):'
    wait_for_screen(page, name, expected)
    page.keyboard.press("Enter")
    # The agent got it, not the shell that started it.
    wait_for_screen(page, name, f"GOT: {expected}")
