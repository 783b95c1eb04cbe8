"""OpenCode."""

from .headless import HeadlessSpec
from .install import NpmInstall
from .spec import ICON_DIR, AgentSpec, ConfigHome
from .writers.opencode import MCP_CLIENT, MODEL_ROLES
from .writers.opencode import WRITER as CONFIG_WRITER

SPEC = AgentSpec(
    id="opencode",
    label="OpenCode",
    executable="opencode",
    argv=("opencode",),
    icon_path=ICON_DIR / "opencode.svg",
    install_hint="npm package opencode-ai, installed into ~/.local by the setup engine",
    headless=HeadlessSpec(
        subcommand=("run",),
        # With no message argument, opencode run reads its message from a piped stdin.
        stdin_args=(),
        permission_args={"workspace": (), "bypass": ("--auto",)},
        notes="opencode run uses opencode.json permissions; --auto approves all but explicit deny rules",
    ),
    install=NpmInstall("opencode-ai", "1.18.33"),
    config_writer=CONFIG_WRITER,
    model_roles=MODEL_ROLES,
    mcp_client=MCP_CLIENT,
    model_route="mlflow-filtered",
    # Global rules; OpenCode reads ~/.claude/CLAUDE.md only when this file is missing.
    instructions_file=".config/opencode/AGENTS.md",
    # OPENCODE_CONFIG_DIR is read after the global config and merged over it,
    # so the user's own opencode.json (MCP servers, providers) still applies and
    # is not copied; its AGENTS.md comes before the global one.
    config_home=ConfigHome(
        variables={"OPENCODE_CONFIG_DIR": ".config/opencode"},
        merged={".config/opencode/AGENTS.md": ".config/opencode/AGENTS.md"},
        skill_dirs=(".config/opencode/skills",),
    ),
)
