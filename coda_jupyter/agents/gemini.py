"""Gemini CLI (Google)."""

from .spec import ICON_DIR, AgentSpec

SPEC = AgentSpec(
    id="gemini",
    label="Gemini CLI",
    executable="gemini",
    argv=("gemini",),
    icon_path=ICON_DIR / "gemini.svg",
    install_hint="npm package @google/gemini-cli, installed into ~/.local by the setup engine",
)
