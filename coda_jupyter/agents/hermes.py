"""Hermes Agent (Nous Research)."""

from .headless import HeadlessSpec
from .install import PypiVenvInstall
from .spec import ICON_DIR, AgentSpec
from .writers.hermes import WRITER as CONFIG_WRITER

SPEC = AgentSpec(
    id="hermes",
    label="Hermes Agent",
    executable="hermes",
    argv=("hermes",),
    icon_path=ICON_DIR / "hermes.svg",
    install_hint="PyPI package hermes-agent, installed into its own virtual environment by the setup engine",
    headless=HeadlessSpec(
        prompt_flag="-z",
        permission_args={"bypass": ()},
        always_bypasses=True,
        notes="one-shot mode (-z) approves every command itself, so only permissions='bypass' is honest",
    ),
    install=PypiVenvInstall("hermes-agent", "0.19.0"),
    config_writer=CONFIG_WRITER,
    model_route="mlflow",
)
