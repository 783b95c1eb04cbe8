"""The fake model upstream over TLS, with a throwaway CA, counting the TCP connections it accepts.

The real upstream (an AI Gateway or serving endpoints) is remote and HTTPS
only, so the gateway's connection reuse is tested against HTTPS: reuse saves
the TCP and TLS handshakes. Its certificate chains to a CA made here and
trusted only through the environment (``SSL_CERT_FILE`` or
``REQUESTS_CA_BUNDLE``), as a deployment behind a TLS-inspecting proxy does.

Behaviours a real server has and tests need to trigger, each as a knob:

- ``idle_timeout``: the server closes keep-alive connections idle that long
  (servers and load balancers do: nginx ``keepalive_timeout``, 75 s by
  default; AWS ALB idle timeout, 60 s by default);
- ``drop_next``: the next N requests are read and their connection is closed
  with no response byte, as happens when the server's idle close crosses a
  request that was already on its way;
- ``die_mid_response``: the next response sends its head and first chunk,
  then (after ``release()`` if held) the connection closes, as when the
  server crashes or restarts.

Run ``python -m tests.gateway.tls_upstream CA_PATH [--big-sse-bytes N]`` to
serve it from a separate process (for benchmarks): it writes the CA there
and prints ``{"port": N}`` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from tornado.httpserver import HTTPServer
from tornado.iostream import IOStream
from tornado.netutil import bind_sockets
from tornado.web import Application

from tests.fakes.model_upstream import FakeModelUpstream, _FakeHandler

HOST = "127.0.0.1"


@dataclass
class Certificates:
    """PEM files: the CA clients must trust, and the server's chain and key."""

    ca: Path
    server_chain: Path
    server_key: Path


def make_certificates(folder: Path) -> Certificates:
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "coda-jupyter test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake model upstream")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = Certificates(folder / "ca.pem", folder / "server-chain.pem", folder / "server-key.pem")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.server_chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.server_key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class _CountingServer(HTTPServer):
    """Records every accepted TCP connection, so tests see reuse from the upstream's side."""

    def initialize(self, *args: Any, upstream: TLSFakeUpstream, **kwargs: Any) -> None:  # type: ignore[override]
        super().initialize(*args, **kwargs)
        self.upstream = upstream

    def handle_stream(self, stream: IOStream, address: tuple[Any, ...]) -> None:
        self.upstream.streams.append(stream)
        super().handle_stream(stream, address)


class _KnobHandler(_FakeHandler):
    fake: TLSFakeUpstream

    async def _serve(self) -> None:
        fake = self.fake
        if fake.drop_next > 0:
            fake.drop_next -= 1
            fake.dropped += 1
            self.request.connection.close()  # type: ignore[union-attr]
            self._finished = True  # nothing more may be written
            return
        if fake.die_mid_response:
            fake.die_mid_response = False
            fake.died += 1
            self.set_header("Content-Type", "text/event-stream")
            self.write(b'data: {"first": true}\n\n')
            await self.flush()
            await fake._wait_if_held()
            self.request.connection.close()  # type: ignore[union-attr]
            self._finished = True
            return
        await super()._serve()


class TLSFakeUpstream(FakeModelUpstream):
    """:class:`FakeModelUpstream` on HTTPS, with the knobs described in the module docstring."""

    def __init__(self, certificates: Certificates, *, idle_timeout: float | None = None) -> None:
        super().__init__()
        self.certificates = certificates
        self.idle_timeout = idle_timeout
        self.streams: list[IOStream] = []
        self.drop_next = 0
        self.dropped = 0
        self.die_mid_response = False
        self.died = 0

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    @property
    def connections_opened(self) -> int:
        return len(self.streams)

    @property
    def connections_open(self) -> int:
        return sum(not stream.closed() for stream in self.streams)

    async def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificates.server_chain, self.certificates.server_key)
        sockets = bind_sockets(0, HOST)
        app = Application([(r"/.*", _KnobHandler, {"fake": self})], log_function=lambda handler: None)
        self._server = _CountingServer(
            app,
            ssl_options=context,
            max_body_size=256 * 1024 * 1024,
            idle_connection_timeout=self.idle_timeout,
            upstream=self,
        )
        self._server.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]


async def _serve_forever(ca_path: Path, big_sse_bytes: int) -> None:
    certificates = make_certificates(ca_path.parent / (ca_path.name + ".d"))
    ca_path.write_bytes(certificates.ca.read_bytes())
    fake = TLSFakeUpstream(certificates)
    fake.big_sse_bytes = big_sse_bytes
    await fake.start()
    print(json.dumps({"port": fake.port}), flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("ca_path", type=Path)
    parser.add_argument("--big-sse-bytes", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(_serve_forever(args.ca_path, args.big_sse_bytes))


if __name__ == "__main__":
    main()
