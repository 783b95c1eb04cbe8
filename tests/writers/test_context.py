from __future__ import annotations

from pathlib import Path

import pytest

from coda_jupyter.agents import BUILTIN
from coda_jupyter.agents.writers import ConfigContext
from coda_jupyter.gateway.routes import ROUTES

from .helpers import GATEWAY_BASE, HOST, SERVING_BASE, direct_endpoints


@pytest.mark.parametrize(
    ("route", "on_gateway", "on_serving"),
    [
        ("anthropic", f"{GATEWAY_BASE}/anthropic", f"{SERVING_BASE}/anthropic"),
        ("openai", f"{GATEWAY_BASE}/openai/v1", SERVING_BASE),
        ("gemini", f"{GATEWAY_BASE}/gemini", f"{SERVING_BASE}/google"),
        ("mlflow", f"{GATEWAY_BASE}/mlflow/v1", SERVING_BASE),
    ],
)
def test_direct_endpoints_follow_the_route_table(route: str, on_gateway: str, on_serving: str) -> None:
    assert direct_endpoints(gateway=GATEWAY_BASE, host=HOST)[route] == on_gateway
    assert direct_endpoints(gateway=GATEWAY_BASE + "/", host=HOST)[route] == on_gateway
    assert direct_endpoints(gateway=None, host=HOST)[route] == on_serving


def test_missing_endpoint_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no endpoint for model route"):
        ConfigContext(home=tmp_path).endpoint("anthropic")
    assert direct_endpoints(gateway=None, host=None) == {}


def test_every_builtin_agent_has_a_writer_and_a_known_route() -> None:
    names = {route.name for route in ROUTES}
    for spec in BUILTIN:
        assert spec.config_writer is not None and spec.config_writer.name == spec.id
        assert spec.model_route in names


def test_secrets_stay_out_of_the_context_repr(tmp_path: Path) -> None:
    ctx = ConfigContext(home=tmp_path, api_key="dapi-secret-1")
    assert "dapi-secret" not in repr(ctx)
