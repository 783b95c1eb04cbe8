"""Claude Code (Anthropic)."""

from .headless import HeadlessSpec
from .install import NpmInstall
from .spec import ICON_DIR, AgentSpec
from .writers.claude import MCP_CLIENT
from .writers.claude import WRITER as CONFIG_WRITER

SPEC = AgentSpec(
    id="claude",
    label="Claude Code",
    executable="claude",
    argv=("claude",),
    icon_path=ICON_DIR / "claude.svg",
    install_hint="npm package @anthropic-ai/claude-code, installed into ~/.local by the setup engine",
    headless=HeadlessSpec(
        # -p (print mode) without a prompt argument reads the prompt from stdin.
        stdin_args=("-p",),
        permission_args={
            "workspace": ("--permission-mode", "acceptEdits"),
            "bypass": ("--dangerously-skip-permissions",),
        },
        notes="-p/--print runs one prompt and exits; bypass refuses to start as root outside a sandbox",
    ),
    # 2.1.197 is the newest release whose engines allow node 18/20; later ones need node 22.
    install=NpmInstall("@anthropic-ai/claude-code", "2.1.197"),
    config_writer=CONFIG_WRITER,
    mcp_client=MCP_CLIENT,
    model_route="anthropic",
    # User memory; Claude Code reads it in every project.
    instructions_file=".claude/CLAUDE.md",
    subagents_dir=".claude/agents",
)
