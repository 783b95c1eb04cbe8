"""The loopback token service that SDK clients in App terminals use (metadata-service auth)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from tornado.httpclient import AsyncHTTPClient

from coda_jupyter.auth.metadata import MetadataService, ServedToken, sdk_auth_env, served_token

HOST = "https://adb-1.cloud.databricks.com"


class Current:
    def __init__(self) -> None:
        self.value: ServedToken | None = None

    def __call__(self) -> ServedToken | None:
        return self.value


@pytest_asyncio.fixture
async def service() -> AsyncIterator[tuple[MetadataService, Current]]:
    current = Current()
    service = MetadataService(current)
    await service.start()
    yield service, current
    await service.stop()


async def _get(url: str, host: str | None = HOST) -> tuple[int, dict[str, object]]:
    headers = {"X-Databricks-Metadata-Version": "1"}
    if host:
        headers["X-Databricks-Host"] = host
    reply = await AsyncHTTPClient().fetch(url, headers=headers, raise_error=False)
    return reply.code, json.loads(reply.body)


@pytest.mark.asyncio
async def test_serves_the_current_token_until_the_next_rotation(service: tuple[MetadataService, Current]) -> None:
    server, current = service
    assert server.url and server.url.startswith("http://127.0.0.1:")
    current.value = ServedToken(HOST, "dapi-current", time.time() + 300)
    status, body = await _get(server.url)
    assert status == 200
    assert body["access_token"] == "dapi-current" and body["token_type"] == "Bearer"
    assert abs(float(str(body["expires_on"])) - (time.time() + 300)) < 5


@pytest.mark.asyncio
async def test_without_credentials_the_answer_says_what_to_do(service: tuple[MetadataService, Current]) -> None:
    server, _ = service
    assert server.url
    status, body = await _get(server.url)
    assert status == 503 and "paste a personal access token" in str(body["message"])


@pytest.mark.asyncio
async def test_the_path_is_the_secret(service: tuple[MetadataService, Current]) -> None:
    server, current = service
    current.value = ServedToken(HOST, "dapi-current", time.time() + 300)
    assert server.url
    base = server.url.rsplit("/", 1)[0]
    for path in ("", "/", "/x", "/" + server.url.rsplit("/", 1)[1][:-1]):
        status, body = await _get(base + path)
        assert status == 404 and "dapi" not in json.dumps(body)


@pytest.mark.asyncio
async def test_another_workspace_gets_nothing(service: tuple[MetadataService, Current]) -> None:
    server, current = service
    current.value = ServedToken(HOST, "dapi-current", time.time() + 300)
    assert server.url
    status, body = await _get(server.url, host="https://elsewhere.cloud.databricks.com")
    assert status == 400 and "dapi" not in json.dumps(body)


def test_served_token_expires_at_the_next_rotation() -> None:
    status = {"host": HOST, "state": "valid", "expires_at": 2000.0, "next_rotation": 1500.0}
    served = served_token(status, "dapi-x")
    assert served == ServedToken(HOST, "dapi-x", 1500.0)
    assert served_token({**status, "state": "expired"}, "dapi-x") is None
    assert served_token(status, None) is None


@pytest.mark.asyncio
async def test_terminal_env_points_sdks_at_the_service(service: tuple[MetadataService, Current]) -> None:
    server, _ = service
    env = sdk_auth_env(server, HOST)
    assert env["DATABRICKS_METADATA_SERVICE_URL"] == server.url
    assert env["DATABRICKS_HOST"] == HOST
    assert env["DATABRICKS_TOKEN"] is None and env["DATABRICKS_CONFIG_PROFILE"] is None
    assert sdk_auth_env(None, HOST) == {}
