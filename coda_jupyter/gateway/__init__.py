"""Local model gateway: one loopback endpoint for every agent's model traffic.

Agents hold only a local key; the gateway adds the current Databricks token to
each request, repairs OpenCode's traffic on the route that asks for it, and
streams responses through unbuffered.
"""

from .routes import ROUTES, Route, route_named, upstream_base
from .server import NO_CREDENTIALS, ModelGateway

__all__ = ["NO_CREDENTIALS", "ROUTES", "ModelGateway", "Route", "route_named", "upstream_base"]
