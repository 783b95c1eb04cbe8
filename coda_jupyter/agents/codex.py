"""Codex CLI (OpenAI)."""

from .spec import ICON_DIR, AgentSpec

SPEC = AgentSpec(
    id="codex",
    label="Codex",
    executable="codex",
    argv=("codex",),
    icon_path=ICON_DIR / "codex.svg",
    install_hint="npm package @openai/codex, installed into ~/.local by the setup engine",
)
