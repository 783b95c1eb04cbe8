"""Codex CLI (OpenAI)."""

from .headless import HeadlessSpec
from .install import NpmInstall
from .spec import ICON_DIR, AgentSpec, ConfigHome
from .writers.codex import MCP_CLIENT, MODEL_ROLES
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
    model_roles=MODEL_ROLES,
    mcp_client=MCP_CLIENT,
    model_route="openai",
    # $CODEX_HOME/AGENTS.md, with CODEX_HOME at its default like the config writer.
    instructions_file=".codex/AGENTS.md",
    # CODEX_HOME holds config.toml, .env (read at start), AGENTS.md, the
    # login (auth.json) and user skills; ~/.agents/skills is still read from HOME.
    config_home=ConfigHome(
        variables={"CODEX_HOME": ".codex"},
        merged={
            ".codex/config.toml": ".codex/config.toml",
            ".codex/.env": ".codex/.env",
            ".codex/AGENTS.md": ".codex/AGENTS.md",
        },
        linked=(".codex/auth.json", ".codex/prompts"),
        linked_entries=(".codex/skills",),
        skill_dirs=(".codex/skills",),
    ),
)
