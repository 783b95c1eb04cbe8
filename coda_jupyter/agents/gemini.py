"""Gemini CLI (Google)."""

from .headless import HeadlessSpec
from .install import NpmInstall
from .spec import ICON_DIR, AgentSpec
from .writers.gemini import MCP_CLIENT
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
    mcp_client=MCP_CLIENT,
    model_route="gemini",
    # Global context file (context.fileName defaults to GEMINI.md).
    instructions_file=".gemini/GEMINI.md",
)
