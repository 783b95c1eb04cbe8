"""Claude Code (Anthropic)."""

from .spec import ICON_DIR, AgentSpec

SPEC = AgentSpec(
    id="claude",
    label="Claude Code",
    executable="claude",
    argv=("claude",),
    icon_path=ICON_DIR / "claude.svg",
    install_hint="npm package @anthropic-ai/claude-code, installed into ~/.local by the setup engine",
)
