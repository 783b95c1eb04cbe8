"""Codex CLI (OpenAI)."""

from .headless import HeadlessSpec
from .install import NpmInstall
from .spec import ICON_DIR, AgentSpec
from .writers.codex import MCP_CLIENT
from .writers.codex import WRITER as CONFIG_WRITER

SPEC = AgentSpec(
    id="codex",
    label="Codex",
    executable="codex",
    argv=("codex",),
    icon_path=ICON_DIR / "codex.svg",
    install_hint="npm package @openai/codex, installed into ~/.local by the setup engine",
    headless=HeadlessSpec(
        subcommand=("exec",),
        fixed_args=("--skip-git-repo-check",),
        stdin_args=("-",),
        permission_args={
            "workspace": ("--sandbox", "workspace-write"),
            "bypass": ("--dangerously-bypass-approvals-and-sandbox",),
        },
        notes="codex exec never asks for approvals; the sandbox mode bounds what it may do",
    ),
    install=NpmInstall("@openai/codex", "0.171.0"),
    config_writer=CONFIG_WRITER,
    mcp_client=MCP_CLIENT,
    model_route="openai",
    # $CODEX_HOME/AGENTS.md, with CODEX_HOME at its default like the config writer.
    instructions_file=".codex/AGENTS.md",
)
