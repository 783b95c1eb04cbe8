"""coda's own MCP endpoint, as agents in Jupyter terminals reach it.

Every Jupyter terminal has the server's loopback URL and token in its
environment (``JUPYTER_SERVER_URL``, ``JUPYTER_TOKEN``). Agent configs only
*refer* to those variables, so no config file holds the token, and a restart on
another port needs no rewrite. An agent that can expand variables in an MCP
server's URL and headers talks Streamable HTTP to the endpoint directly; one
that cannot (Codex takes no URL from the environment) runs ``coda-bridge`` as a
stdio server with the server's own interpreter, and the bridge reads both
variables itself.

Each agent's writer module knows its own format; ``McpClientSnippet`` is the
same knowledge for a client outside the terminals (the Agent tasks panel),
where the URL is the one the browser sees.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .merge import child

URL_VARIABLE = "JUPYTER_SERVER_URL"
TOKEN_VARIABLE = "JUPYTER_TOKEN"  # noqa: S105 -- the name of the variable, not a token
# Relative to the server URL, which ends with the base URL's "/".
ENDPOINT_PATH = "api/coda/mcp"
# Stands for the endpoint's URL in served snippets; the lab puts in the one the browser sees.
URL_PLACEHOLDER = "__MCP_URL__"


@dataclass(frozen=True)
class CodaMcp:
    """What agent configs need to reach coda's endpoint from a terminal."""

    name: str = "coda"
    # The stdio bridge for agents that cannot take the URL from the environment:
    # the server's own interpreter has coda_jupyter, whatever PATH says.
    bridge: tuple[str, ...] = (sys.executable, "-m", "coda_jupyter.mcp.bridge")

    @property
    def bridge_variables(self) -> tuple[str, ...]:
        return (URL_VARIABLE, TOKEN_VARIABLE)


@dataclass(frozen=True)
class McpClientSnippet:
    """A ready-to-paste client config: where it goes, and its text for an endpoint URL."""

    where: str
    render: Callable[[str], str]


def url_from(reference: Callable[[str], str]) -> str:
    """The endpoint URL written with ``reference(URL_VARIABLE)`` in the agent's own syntax."""
    return reference(URL_VARIABLE) + ENDPOINT_PATH


def bearer(reference: Callable[[str], str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {reference(TOKEN_VARIABLE)}"}


def dollar_braces(name: str) -> str:
    return "${" + name + "}"


def replace_entry(mapping: dict[str, Any], key: str, ours: Mapping[str, Any], transport: set[str]) -> None:
    """Set our entry; drop transport fields of another shape (a stdio ``command``
    beside our ``url`` makes some CLIs refuse the whole config) and keep the
    rest the user added (timeouts, trust, ...)."""
    entry = child(mapping, key)
    for stale in transport - set(ours):
        entry.pop(stale, None)
    entry.update(ours)
