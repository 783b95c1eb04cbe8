"""Claude Code (Anthropic)."""

from .headless import HeadlessSpec
from .install import NpmInstall
from .spec import ICON_DIR, AgentSpec, ConfigHome, ConfigStep
from .writers import mlflow
from .writers.claude import MCP_CLIENT, MODEL_ROLES
from .writers.claude import WRITER as CONFIG_WRITER

SPEC = AgentSpec(
    id="claude",
    label="Claude Code",
    executable="claude",
    argv=("claude",),
    icon_path=ICON_DIR / "claude.svg",
    install_hint="npm package @anthropic-ai/claude-code, installed into ~/.local by the setup engine",
    headless=HeadlessSpec(
        # -p (print mode) without a prompt argument reads the prompt from stdin.
        stdin_args=("-p",),
        permission_args={
            "workspace": ("--permission-mode", "acceptEdits"),
            "bypass": ("--dangerously-skip-permissions",),
        },
        notes="-p/--print runs one prompt and exits; bypass refuses to start as root outside a sandbox",
    ),
    # 2.1.197 is the newest release whose engines allow node 18/20; later ones need node 22.
    install=NpmInstall("@anthropic-ai/claude-code", "2.1.197"),
    config_writer=CONFIG_WRITER,
    model_roles=MODEL_ROLES,
    # Both write ~/.claude/settings.json, so tracing runs after the agent's writer.
    config_steps=(ConfigStep("tracing", "Enabling MLflow tracing for Claude Code", mlflow.WRITER),),
    mcp_client=MCP_CLIENT,
    model_route="anthropic",
    # User memory; Claude Code reads it in every project.
    instructions_file=".claude/CLAUDE.md",
    subagents_dir=".claude/agents",
    # CLAUDE_CONFIG_DIR moves ~/.claude as a whole, .claude.json included (it
    # then lives inside the folder); login is .credentials.json there.
    config_home=ConfigHome(
        variables={"CLAUDE_CONFIG_DIR": ".claude"},
        merged={
            ".claude/settings.json": ".claude/settings.json",
            ".claude/.claude.json": ".claude.json",
            ".claude/CLAUDE.md": ".claude/CLAUDE.md",
        },
        linked=(".claude/.credentials.json", ".claude/commands", ".claude/output-styles"),
        linked_entries=(".claude/skills", ".claude/agents"),
        skill_dirs=(".claude/skills",),
    ),
)
