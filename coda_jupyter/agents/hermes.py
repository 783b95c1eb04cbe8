"""Hermes Agent (Nous Research)."""

from .headless import HeadlessSpec
from .install import PypiVenvInstall
from .spec import ICON_DIR, AgentSpec, ConfigHome
from .writers.hermes import MCP_CLIENT, MODEL_ROLES
from .writers.hermes import WRITER as CONFIG_WRITER

SPEC = AgentSpec(
    id="hermes",
    label="Hermes Agent",
    executable="hermes",
    argv=("hermes",),
    icon_path=ICON_DIR / "hermes.svg",
    install_hint="PyPI package hermes-agent, installed into its own virtual environment by the setup engine",
    headless=HeadlessSpec(
        # -z takes the prompt text only (no stdin, no file), so it gets the pointer.
        prompt_flag="-z",
        permission_args={"bypass": ()},
        always_bypasses=True,
        notes="one-shot mode (-z) approves every command itself, so only permissions='bypass' is honest",
    ),
    # The mcp extra: without it Hermes reaches no HTTP MCP server, coda's included.
    install=PypiVenvInstall("hermes-agent", "0.19.0", extras=("mcp",)),
    config_writer=CONFIG_WRITER,
    model_roles=MODEL_ROLES,
    mcp_client=MCP_CLIENT,
    model_route="mlflow",
    # $HERMES_HOME/SOUL.md is the one user-level file Hermes puts in every
    # system prompt (agent/prompt_builder.py load_soul_md); AGENTS.md and
    # .hermes.md are only read from the working directory.
    instructions_file=".hermes/SOUL.md",
    # HERMES_HOME holds config.yaml, SOUL.md, .env and auth.json; its own
    # skills folder is read through skills.external_dirs (writers/hermes.py).
    config_home=ConfigHome(
        variables={"HERMES_HOME": ".hermes"},
        merged={".hermes/config.yaml": ".hermes/config.yaml", ".hermes/SOUL.md": ".hermes/SOUL.md"},
        linked=(".hermes/.env", ".hermes/auth.json"),
    ),
)
