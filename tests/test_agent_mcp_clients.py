"""``GET coda/api/agents`` serves each agent's MCP client snippet for the Agent tasks panel."""

from __future__ import annotations

import json
from typing import Any

import tomllib
import yaml

from coda_jupyter.agents import BUILTIN

PLACEHOLDER = "__MCP_URL__"
URL = "https://lab.example.com/user/jane/api/coda/mcp"


def parse(where: str, text: str) -> Any:
    """Each snippet in its own file's syntax, as the agent will read it."""
    if where.endswith(".toml"):
        return tomllib.loads(text)
    if where.endswith(".yaml"):
        return yaml.safe_load(text)
    if where.endswith(".json"):
        return json.loads(text)
    # A shell command: `claude mcp add-json ... '<json>'`.
    return json.loads(text[text.index("'") + 1 : text.rindex("'")])


async def test_every_builtin_agent_serves_a_snippet_that_reads_the_token_from_the_environment(
    jp_fetch: Any, jp_serverapp: Any
) -> None:
    served = json.loads((await jp_fetch("coda", "api", "agents")).body)
    clients = {agent["id"]: agent["mcp_client"] for agent in served}
    assert set(clients) >= {spec.id for spec in BUILTIN}
    # An agent added through configuration has no known MCP config format.
    assert clients["stubby"] is None
    for spec in BUILTIN:
        client = clients[spec.id]
        assert client["where"], spec.id
        snippet = client["snippet"].replace(PLACEHOLDER, URL)
        text = json.dumps(parse(client["where"], snippet))
        assert URL in text, (spec.id, snippet)
        assert "JUPYTER_TOKEN" in text, (spec.id, snippet)
    assert jp_serverapp.identity_provider.token not in json.dumps(served)
