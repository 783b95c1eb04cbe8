"""The agent catalogue: builtins, and add / override / remove through config."""

from __future__ import annotations

import pytest

from coda_jupyter.agents import BUILTIN, Catalogue
from coda_jupyter.agents.catalogue import model_roles, models_from_environment, unknown_model_roles
from coda_jupyter.agents.models import Models


def test_builtins_in_order() -> None:
    catalogue = Catalogue.from_config({}, [])
    assert catalogue.ids() == ["claude", "codex", "gemini", "opencode", "hermes"]
    assert [spec.label for spec in catalogue] == [
        "Claude Code",
        "Codex",
        "Gemini CLI",
        "OpenCode",
        "Hermes Agent",
    ]
    for spec in BUILTIN:
        svg = spec.icon_svg()
        assert svg is not None and svg.startswith("<svg")


def test_add_override_remove() -> None:
    catalogue = Catalogue.from_config(
        {
            "aider": {"executable": "aider", "label": "Aider", "argv": ["aider", "--no-auto-commits"]},
            "codex": {"argv": ["codex", "--full-auto"]},
            "gemini": None,
        },
        ["hermes"],
    )
    assert catalogue.ids() == ["claude", "codex", "opencode", "aider"]
    aider = catalogue.get("aider")
    assert aider is not None
    assert aider.argv == ("aider", "--no-auto-commits")
    assert aider.icon_svg() is not None
    codex = catalogue.get("codex")
    assert codex is not None and codex.argv == ("codex", "--full-auto")
    assert codex.label == "Codex"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Bad-Id": {"executable": "x"}}, "must match"),
        ({"newone": {"label": "No executable"}}, "'executable' is required"),
        ({"codex": {"argv": "codex --full-auto"}}, "list of strings"),
        ({"codex": {"argv": []}}, "must not be empty"),
        ({"codex": {"colour": "red"}}, "unknown field"),
    ],
)
def test_invalid_config_is_explained(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Catalogue.from_config(overrides, [])


def test_model_roles_come_from_the_agents() -> None:
    roles = model_roles(BUILTIN)
    assert [role.name for role in roles] == [
        "claude",
        "claude_opus",
        "claude_sonnet",
        "claude_haiku",
        "codex",
        "gemini",
        "opencode",
        "opencode_small",
        "hermes",
        "hermes_fallback",
    ]
    environ = {"CODEX_MODEL": "gpt-x", "HERMES_FALLBACK_MODEL": "", "UNRELATED": "1"}
    assert models_from_environment(BUILTIN, environ) == {"codex": "gpt-x"}
    assert unknown_model_roles(BUILTIN, ["codex", "cladue"]) == ["cladue"]
    codex = next(role for role in roles if role.name == "codex")
    assert Models({"codex": "gpt-x"})[codex] == "gpt-x"
    assert Models()[codex] == codex.default
