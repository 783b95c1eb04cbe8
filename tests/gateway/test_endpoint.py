"""The gateway's address: a loopback port recorded once per user, reused, never someone else's.

The real ``GatewayService`` as the server builds it (a credential manager
with no credentials yet, the real resolver), listening on real loopback
sockets. "Someone else" holding the port is a listening socket of this
process: for ``bind()`` a listener is a listener, whichever user owns it
(Linux lets a second socket share a listening port only through
``SO_REUSEPORT``, and only for the same user).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import socket
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from coda_jupyter.auth.credentials import CredentialManager
from coda_jupyter.auth.gateway_discovery import GatewayResolver
from coda_jupyter.gateway.service import GatewayService

# Long enough that a refused connection can only be a refusal, never a
# connect still waiting: a hang would surface as TimeoutError instead.
CONNECT_TIMEOUT_S = 10.0
# The conventional uid of "nobody": some other user.
NOBODY = 65534


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def ask(port: int) -> tuple[int, dict[str, object]]:
    """What an agent does first: list models on its route (with a key the gateway refuses).

    In a thread: the gateway answers on this test's event loop.
    """
    return await asyncio.to_thread(_ask, port)


def _ask(port: int) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CONNECT_TIMEOUT_S)
    try:
        connection.request("GET", "/anthropic/v1/models", headers={"x-api-key": "wrong-key-is-fine-here"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


ServiceFactory = Callable[[Path], GatewayService]


@pytest_asyncio.fixture
async def make_service() -> AsyncIterator[ServiceFactory]:
    made: list[GatewayService] = []

    def make(state_dir: Path) -> GatewayService:
        service = GatewayService(
            CredentialManager(None, mode="local"),
            GatewayResolver(),
            state_dir / "gateway.key",
            port=0,
            max_body_size=1024 * 1024,
        )
        made.append(service)
        return service

    yield make
    for service in made:
        await service.stop()


async def test_a_restart_reuses_the_recorded_port_and_a_stopped_gateway_refuses_at_once(
    tmp_path: Path, make_service: ServiceFactory
) -> None:
    state = tmp_path / "state"
    first = make_service(state)
    await first.start()
    port = first.gateway.port
    assert port is not None
    record = state / "gateway-port"
    assert record.read_text(encoding="ascii") == f"{port}\n"
    assert mode(record) == 0o600 and mode(state) == 0o700
    assert first.endpoints()["anthropic"] == f"http://127.0.0.1:{port}/anthropic"
    status, body = await ask(port)
    assert status == 401 and body["error"] == "missing or wrong local gateway key"

    await first.stop()
    # Server down: an agent's connection is refused at once, not left hanging.
    with pytest.raises(ConnectionRefusedError):
        await ask(port)

    second = make_service(state)
    await second.start()
    assert second.gateway.port == port
    assert second.endpoints()["anthropic"] == f"http://127.0.0.1:{port}/anthropic"


async def test_a_recorded_port_someone_else_holds_is_never_used(tmp_path: Path, make_service: ServiceFactory) -> None:
    squatter = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    squatter.setblocking(False)
    taken = squatter.getsockname()[1]
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    (state / "gateway-port").write_text(f"{taken}\n", encoding="ascii")
    try:
        service = make_service(state)
        await service.start()
        port = service.gateway.port
        assert port is not None and port != taken
        assert (state / "gateway-port").read_text(encoding="ascii") == f"{port}\n"
        assert all(f":{taken}/" not in url for url in service.endpoints().values())
        assert (await ask(port))[0] == 401
        # Nothing of ours ever knocked at the squatter's door.
        with pytest.raises(BlockingIOError):
            squatter.accept()
        assert mode(state) == 0o700
    finally:
        squatter.close()


async def test_the_record_is_written_through_a_symlink_and_junk_is_replaced(
    tmp_path: Path, make_service: ServiceFactory
) -> None:
    dotfile = tmp_path / "dotfiles" / "gateway-port"
    dotfile.parent.mkdir()
    dotfile.write_text("not a port\n", encoding="ascii")
    state = tmp_path / "state"
    state.mkdir()
    (state / "gateway-port").symlink_to(dotfile)

    service = make_service(state)
    await service.start()
    port = service.gateway.port
    assert (state / "gateway-port").is_symlink()
    assert dotfile.read_text(encoding="ascii") == f"{port}\n"
    assert mode(dotfile) == 0o600


async def test_no_record_is_kept_in_a_state_folder_another_user_owns(
    tmp_path: Path, make_service: ServiceFactory
) -> None:
    if os.getuid() != 0:
        pytest.skip("handing a folder to another user needs root")
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.chown(state, NOBODY, NOBODY)

    service = make_service(state)
    await service.start()
    # The gateway runs, but nothing is written where another user could swap it.
    assert service.gateway.port is not None
    assert not (state / "gateway-port").exists()
    assert state.stat().st_uid == NOBODY
