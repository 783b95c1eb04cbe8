"""OpenCode."""

from .headless import HeadlessSpec
from .install import NpmInstall
from .spec import ICON_DIR, AgentSpec
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
        permission_args={"workspace": (), "bypass": ("--auto",)},
        notes="opencode run uses opencode.json permissions; --auto approves all but explicit deny rules",
    ),
    install=NpmInstall("opencode-ai", "1.18.33"),
    config_writer=CONFIG_WRITER,
    model_route="mlflow-filtered",
)
