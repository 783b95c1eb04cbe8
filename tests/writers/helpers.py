"""Constants and helpers shared by the config writer tests."""

from __future__ import annotations

import stat
from pathlib import Path

from coda_jupyter.gateway.routes import ROUTES, upstream_base


def direct_endpoints(*, gateway: str | None, host: str | None) -> dict[str, str]:
    """Upstream base per route name: agent configs pointed at the workspace
    itself, as tests that run a fake upstream in place of the gateway need."""
    return {
        route.name: base for route in ROUTES if (base := upstream_base(route, gateway=gateway, host=host)) is not None
    }


HOST = "https://adb-123.4.azuredatabricks.net"
SERVING_BASE = f"{HOST}/serving-endpoints"
GATEWAY_BASE = "https://123.ai-gateway.cloud.databricks.com"
TOKEN = "dapi-test-token-1"
SERVING_ENDPOINTS = direct_endpoints(gateway=None, host=HOST)
GATEWAY_ENDPOINTS = direct_endpoints(gateway=GATEWAY_BASE, host=HOST)
ROTATED = "dapi-test-token-2"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every file (bytes) and symlink (target) under ``root``."""
    result: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            result[key] = "-> " + str(path.readlink())
        elif path.is_file():
            result[key] = path.read_bytes()
    return result


def files_containing(root: Path, needle: str) -> list[str]:
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink() and needle.encode() in p.read_bytes()
    ]
