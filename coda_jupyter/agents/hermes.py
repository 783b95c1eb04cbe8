"""Hermes Agent (Nous Research)."""

from .spec import ICON_DIR, AgentSpec

SPEC = AgentSpec(
    id="hermes",
    label="Hermes Agent",
    executable="hermes",
    argv=("hermes",),
    icon_path=ICON_DIR / "hermes.svg",
    install_hint="PyPI package hermes-agent, installed into its own virtual environment by the setup engine",
)
