from __future__ import annotations

from pathlib import Path

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.writers import ConfigContext, model_endpoint

from .helpers import GATEWAY_BASE, SERVING_BASE


@pytest.mark.parametrize(
    ("route", "on_gateway", "on_serving"),
    [
        ("anthropic", f"{GATEWAY_BASE}/anthropic", f"{SERVING_BASE}/anthropic"),
        ("openai", f"{GATEWAY_BASE}/openai/v1", SERVING_BASE),
        ("gemini", f"{GATEWAY_BASE}/gemini", f"{SERVING_BASE}/google"),
        ("mlflow", f"{GATEWAY_BASE}/mlflow/v1", SERVING_BASE),
    ],
)
def test_every_route_derives_from_the_one_base(route: str, on_gateway: str, on_serving: str) -> None:
    assert model_endpoint(GATEWAY_BASE, route) == on_gateway
    assert model_endpoint(GATEWAY_BASE + "/", route) == on_gateway
    assert model_endpoint(SERVING_BASE, route) == on_serving


def test_a_local_gateway_base_gets_gateway_suffixes() -> None:
    assert model_endpoint("http://127.0.0.1:8765/gw", "anthropic") == "http://127.0.0.1:8765/gw/anthropic"


def test_unknown_route_and_missing_base_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model route"):
        model_endpoint(GATEWAY_BASE, "bedrock")
    with pytest.raises(ValueError, match="no model base"):
        ConfigContext(home=tmp_path).endpoint("anthropic")


def test_every_builtin_agent_has_a_writer_and_a_known_route() -> None:
    for spec in BUILTIN:
        assert spec.config_writer is not None and spec.config_writer.name == spec.id
        assert model_endpoint(GATEWAY_BASE, spec.model_route or "")
