"""The gateway's route table: one local prefix per upstream API family.

An agent's config points its base URL at ``http://127.0.0.1:<port>/<route>``
and keeps appending its own API paths (``/v1/messages``, ``/responses``,
``/v1beta/models/…``); the gateway swaps the local prefix for the upstream
base. Agents pick a route by name through ``AgentSpec.model_route``, so which
traffic gets the content filter is a property of the route, never of an agent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .paths import ANTHROPIC_PATHS, GEMINI_PATHS, OPENAI_PATHS, compile_paths


@dataclass(frozen=True)
class Route:
    """One upstream family and where it lives on an AI Gateway and on serving endpoints."""

    name: str
    description: str
    # Appended to the AI Gateway host, e.g. ``/anthropic``.
    gateway_suffix: str
    # Appended to ``{workspace host}/serving-endpoints``, e.g. ``/anthropic``.
    serving_suffix: str
    # Path patterns (after the local prefix) the route forwards; see ``gateway.paths``.
    paths: tuple[str, ...]
    # Repair requests and responses with ``gateway.filter`` (for clients that
    # send what the upstream rejects).
    content_filter: bool = False
    allowed: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed", compile_paths(self.paths))


ROUTES: tuple[Route, ...] = (
    Route("anthropic", "Anthropic messages API", "/anthropic", "/anthropic", ANTHROPIC_PATHS),
    Route("openai", "OpenAI chat completions and responses API", "/openai/v1", "", OPENAI_PATHS),
    Route("gemini", "Gemini generateContent API", "/gemini", "/google", GEMINI_PATHS),
    Route("mlflow", "OpenAI-compatible mlflow/v1 API", "/mlflow/v1", "", OPENAI_PATHS),
    Route(
        "mlflow-filtered",
        "OpenAI-compatible mlflow/v1 API with the content filter",
        "/mlflow/v1",
        "",
        OPENAI_PATHS,
        content_filter=True,
    ),
)


def route_named(name: str, routes: tuple[Route, ...] = ROUTES) -> Route | None:
    return next((route for route in routes if route.name == name), None)


def upstream_base(route: Route, *, gateway: str | None, host: str | None) -> str | None:
    """The upstream base URL for ``route``: the AI Gateway when discovery found one, else serving endpoints.

    ``gateway`` and ``host`` are what discovery and the credentials hold right
    now (either may lack a scheme); None when neither is known.
    """
    if gateway:
        return _https(gateway) + route.gateway_suffix
    if host:
        return _https(host) + "/serving-endpoints" + route.serving_suffix
    return None


def _https(url: str) -> str:
    url = url.strip().rstrip("/")
    return url if "://" in url else "https://" + url
