"""Prompts and context reach the agent through a 0600 file, never the command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from ..conftest import write_stub
from ..mcp.conftest import call, tasks_root

PROMPT_MARKER = "zq-prompt-marker-4d1f"
CONTEXT_MARKER = "zq-context-marker-8b2e"

# A configured agent, like any the user adds: it counts the bytes of the task
# it receives, reports the count, and holds until the test releases it so the
# test can look at the process table while it runs.
COUNTING_AGENT = r"""if [ "$1" = "--version" ]; then echo "1.0.0"; exit 0; fi
bytes=$(wc -c | tr -d ' ')
echo "prompt bytes: $bytes"
while [ ! -e "$CODA_TASK_DIR/release" ]; do sleep 0.05; done
printf '{"status": "completed", "summary": "read %s bytes"}' "$bytes" > "$CODA_TASK_RESULT_FILE.tmp"
mv "$CODA_TASK_RESULT_FILE.tmp" "$CODA_TASK_RESULT_FILE"
"""


@pytest.fixture
def stub_agent(jp_home_dir: Path) -> Path:
    return write_stub(Path(jp_home_dir) / ".local" / "bin", "stubby-agent", COUNTING_AGENT)


def _command_lines() -> str:
    """Every argument of every process, as ``ps`` and /proc show them to any local user."""
    listing = [subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                listing.append((entry / "cmdline").read_bytes().decode("utf-8", "replace"))
            except OSError:
                continue  # exited meanwhile
    return "\n".join(listing)


async def _result(session: Any, task_id: str, want: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (result := await call(session, "coda_get_result", task_id=task_id))["status"] != want:
        assert time.monotonic() < deadline, result
        await asyncio.sleep(0.1)
    return result


async def test_one_megabyte_prompt_stays_off_the_command_line(mcp_session: Any) -> None:
    filler = "Rename the helper functions consistently. "
    prompt = PROMPT_MARKER + " " + filler * (1_000_000 // len(filler))
    prompt = prompt[:1_000_000]
    async with mcp_session() as session:
        started = await call(session, "coda_run", prompt=prompt, context={"table": CONTEXT_MARKER})
        assert "error" not in started, started
        folder = tasks_root() / started["task_id"]
        prompt_file = folder / "prompt.txt"
        expected = prompt_file.stat().st_size
        assert expected > 1_000_000
        assert prompt_file.stat().st_mode & 0o777 == 0o600

        # Running: the agent has read the whole task from the file.
        deadline = time.monotonic() + 30
        while f"prompt bytes: {expected}" not in (folder / "transcript.log").read_text():
            assert time.monotonic() < deadline, (folder / "transcript.log").read_text()
            await asyncio.sleep(0.1)
        assert (await call(session, "coda_get_result", task_id=started["task_id"]))["status"] == "running"
        processes = _command_lines()
        assert "stubby-agent" in processes
        assert PROMPT_MARKER not in processes and filler.strip() not in processes
        assert CONTEXT_MARKER not in processes

        (folder / "release").touch()
        result = await _result(session, started["task_id"], "completed")
    assert result["summary"] == f"read {expected} bytes"
    assert os.stat(folder).st_mode & 0o777 == 0o700
