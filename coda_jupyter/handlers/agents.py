"""``GET coda/api/agents`` and ``POST coda/api/agents/<id>/terminals``."""

from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..agents import AgentSpec
from ..agents.writers.coda_mcp import URL_PLACEHOLDER
from ..util.paths import unusable_path_reason
from .base import CodaAPIHandler


class AgentsHandler(CodaAPIHandler):
    auth_resource = "coda:agents"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        specs = list(self.coda.catalogue)
        probes = await self.coda.prober.probe_all(specs, self.coda.terminal_path())
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
        spec = self.coda.catalogue.get(agent_id)
        if spec is None:
            raise web.HTTPError(404, f"unknown agent {agent_id!r}; known: {self.coda.catalogue.ids()}")
        body = self.json_body()
        cwd = self._resolve_cwd(body.get("cwd", ""))
        name = self.coda.launch_agent_terminal(spec, cwd)
        self.write_json({"name": name})

    def _resolve_cwd(self, relative: object) -> str:
        if relative is None:
            relative = ""
        if not isinstance(relative, str):
            raise web.HTTPError(400, "cwd must be a string path relative to the server root")
        problem = unusable_path_reason(relative)
        if problem is not None:
            raise web.HTTPError(400, f"cwd {problem}")
        root = os.path.realpath(self.coda.server.root_dir)
        target = os.path.realpath(os.path.join(root, relative.lstrip("/")))
        if os.path.commonpath([root, target]) != root:
            raise web.HTTPError(400, f"cwd {relative!r} is outside the server root")
        if not os.path.isdir(target):
            raise web.HTTPError(400, f"cwd {relative!r} is not a directory")
        return target
