"""OpenCode."""

from .spec import ICON_DIR, AgentSpec

SPEC = AgentSpec(
    id="opencode",
    label="OpenCode",
    executable="opencode",
    argv=("opencode",),
    icon_path=ICON_DIR / "opencode.svg",
    install_hint="npm package opencode-ai, installed into ~/.local by the setup engine",
)
