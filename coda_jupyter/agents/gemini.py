"""Gemini CLI (Google)."""

from .headless import HeadlessSpec
from .install import NpmInstall
from .spec import ICON_DIR, AgentSpec, ConfigHome
from .writers.gemini import MCP_CLIENT, MODEL_ROLES
from .writers.gemini import WRITER as CONFIG_WRITER

SPEC = AgentSpec(
    id="gemini",
    label="Gemini CLI",
    executable="gemini",
    argv=("gemini",),
    icon_path=ICON_DIR / "gemini.svg",
    install_hint="npm package @google/gemini-cli, installed into ~/.local by the setup engine",
    headless=HeadlessSpec(
        # Without -p, a stdin that is not a terminal is the prompt and the run is headless.
        stdin_args=(),
        permission_args={
            "workspace": ("--approval-mode", "auto_edit"),
            "bypass": ("--approval-mode", "yolo"),
        },
        notes="-p runs headless; untrusted folders force the default approval mode",
    ),
    install=NpmInstall("@google/gemini-cli", "0.61.0"),
    config_writer=CONFIG_WRITER,
    model_roles=MODEL_ROLES,
    mcp_client=MCP_CLIENT,
    model_route="gemini",
    # Global context file (context.fileName defaults to GEMINI.md).
    instructions_file=".gemini/GEMINI.md",
    # GEMINI_CLI_HOME replaces the home folder Gemini CLI finds ~/.gemini and
    # ~/.agents/skills in; the overlay is that home.
    config_home=ConfigHome(
        variables={"GEMINI_CLI_HOME": "."},
        merged={
            ".gemini/settings.json": ".gemini/settings.json",
            ".gemini/.env": ".gemini/.env",
            ".gemini/trustedFolders.json": ".gemini/trustedFolders.json",
            ".gemini/GEMINI.md": ".gemini/GEMINI.md",
        },
        linked=(".gemini/oauth_creds.json", ".gemini/google_accounts.json", ".gemini/commands"),
        linked_entries=(".gemini/skills", ".agents/skills"),
        skill_dirs=(".agents/skills",),
    ),
)
