"""``GET coda/api/agents`` and ``POST coda/api/agents/<id>/terminals``."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..agents import AgentSpec
from ..agents.writers.coda_mcp import URL_PLACEHOLDER
from ..terminals.agent_terminals import Launch
from .base import CodaAPIHandler


class AgentsHandler(CodaAPIHandler):
    auth_resource = "coda:agents"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        specs = list(self.services.catalogue)
        probes = await self.services.prober.probe_all(specs, self.services.terminals.path())
        self.write_json(
            [
                {
                    "id": spec.id,
                    "label": spec.label,
                    "installed": probe.installed,
                    "version": probe.version,
                    "executable": probe.executable,
                    "icon": spec.icon_svg(),
                    "mcp_client": _mcp_client(spec),
                }
                for spec, probe in zip(specs, probes, strict=True)
            ]
        )


def _mcp_client(spec: AgentSpec) -> dict[str, str] | None:
    """The snippet with a placeholder for the endpoint URL: the lab puts in the one the browser sees."""
    if spec.mcp_client is None:
        return None
    return {"where": spec.mcp_client.where, "snippet": spec.mcp_client.render(URL_PLACEHOLDER)}


class AgentTerminalsHandler(CodaAPIHandler):
    auth_resource = "coda:terminals"

    @web.authenticated
    @authorized
    def post(self, agent_id: str) -> None:
        catalogue = self.services.catalogue
        spec = catalogue.get(agent_id)
        if spec is None:
            raise web.HTTPError(404, f"unknown agent {agent_id!r}; known: {catalogue.ids()}")
        terminals = self.services.terminals
        # Both raise HTTP errors the client gets as JSON: 400 for the cwd, 429/503 from admission.
        cwd = terminals.resolve_cwd(self.json_body().get("cwd"))
        self.write_json({"name": terminals.launch(Launch(spec, cwd))})
