"""``GET coda/api/openapi.json``: the OpenAPI 3.1 description of every coda route.

The document is kept as YAML next to the handlers (``openapi.yaml``) so it can
be read and reviewed by people; a test compares its paths and methods with
the registered routes so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from typing import Any

import yaml
from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from .base import CodaAPIHandler


@functools.lru_cache(maxsize=1)
def _shipped_document() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("openapi.yaml").read_text(encoding="utf-8")
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def openapi_document(base_url: str = "/", version: str | None = None) -> dict[str, Any]:
    """The shipped document with the server's base URL and, when given, the package's version."""
    document = copy.deepcopy(_shipped_document())
    if version is not None:
        document["info"]["version"] = version
    # Paths in the document start with "/coda", so the server URL carries no trailing slash.
    document["servers"] = [{"url": url_path_join("/", base_url).rstrip("/") or "/"}]
    return document


class OpenApiHandler(CodaAPIHandler):
    auth_resource = "coda:api"

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.write_json(openapi_document(self.settings.get("base_url", "/"), self.services.version))
