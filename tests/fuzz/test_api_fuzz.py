"""Schemathesis over every route of the served OpenAPI document, against a real server.

The server is a ``jupyter lab`` subprocess (schemathesis calls it with blocking
``requests``, which would stall pytest-jupyter's in-process server). It talks
to the fake workspace and holds real secrets: the server token, the model
gateway's local key, a planted service-principal secret, the pasted PAT and
the short-lived tokens minted from it. Every generated request, valid or
not, must get a reply that is not a 5xx, that matches the document, and that
carries none of those secrets in its body or headers.

Bounded so ``make test`` stays quick on two cores: a fixed number of examples
per operation, derandomized so a failure reproduces on the next run.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from coda_jupyter.handlers.credentials import workspace_url
from coda_jupyter.handlers.openapi import openapi_document

from ..browser.lab import Lab, running_lab
from ..fakes.workspace import FakeWorkspace

MAX_EXAMPLES = 25
STUB_AGENT = "stubby"
UPLOAD_LIMIT = 64 * 1024
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    ignored_auth,
]


@dataclass
class FuzzTarget:
    lab: Lab
    workspace: FakeWorkspace
    planted: dict[str, str]

    def secrets(self) -> dict[str, str]:
        """Every secret the server holds right now, by what it is."""
        minted = {f"minted token {t.token_id}": t.value for t in self.workspace.minted_tokens()}
        return {**self.planted, **minted}


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    base = tmp_path_factory.mktemp("fuzz")
    gateway_key = "gwkey-" + secrets.token_urlsafe(24)
    state_dir = base / "home" / ".local" / "state" / "coda-jupyter"
    state_dir.mkdir(parents=True)
    key_file = state_dir / "gateway.key"
    key_file.write_text(gateway_key + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    client_secret = "dose-" + secrets.token_hex(20)
    with FakeWorkspace() as workspace:
        server_config = {
            "CodaApp": {"agents": {STUB_AGENT: {"executable": "stubby-agent", "label": "Stubby"}}},
            "CredentialManager": {"host": workspace.host},
            # Small enough that an over-limit body is cheap to generate.
            "UploadStore": {"max_size": UPLOAD_LIMIT},
        }
        extra_env = {"DATABRICKS_CLIENT_SECRET": client_secret}
        with running_lab(base, server_config=server_config, extra_env=extra_env) as lab:
            _configure_credentials(lab, workspace)
            planted = {
                "server token": lab.token,
                "gateway local key": gateway_key,
                "DATABRICKS_CLIENT_SECRET": client_secret,
                "pasted PAT": workspace.bootstrap_token,
            }
            yield FuzzTarget(lab, workspace, planted)


def _configure_credentials(lab: Lab, workspace: FakeWorkspace) -> None:
    """Paste the workspace's PAT so the server holds live, rotating tokens while it is fuzzed."""
    body = json.dumps({"token": workspace.bootstrap_token}).encode()
    status = lab.api("coda/api/credentials", method="POST", body=body)
    assert isinstance(status, dict) and status["configured"], status
    assert workspace.minted_tokens(), "no short-lived token was minted"


# Loaded from the package, not from the server: the operations must be known
# when pytest collects, before the server is up. The served copy differs only
# in its version and server URL (tests/test_handlers.py checks it is this one).
schema = schemathesis.openapi.from_dict(
    openapi_document(),
    config=schemathesis.Config.from_dict(
        {
            "request-timeout": 30,
            "generation": {"max-examples": MAX_EXAMPLES},
            "checks": {
                # Schemathesis's list plus 413: an upload over the size limit is
                # refused before its parts are read, whatever else is wrong with it.
                "negative_data_rejection": {
                    "expected-statuses": [400, 401, 403, 404, 405, 406, 409, 413, 415, 422, 428, 429]
                }
            },
            # The stub agent is not installed, so a terminal only prints how to
            # install it and stays a shell: cheap, and it reaches the cwd checks.
            "parameters": {"path.agent_id": STUB_AGENT},
        }
    ),
)


# Folder names a client might send to escape the root or to break path
# handling (NUL, an unpaired surrogate, a name too long for the OS): plain
# generation almost never draws them, as ``cwd`` is optional and mostly left out.
HOSTILE_FOLDERS = st.sampled_from(
    ["..", "../..", "/etc/..", "a\x00", "\x00/etc", "proj/\ud800", "~", "x" * 5000, "../" * 64]
)


@schema.hook.apply_to(path="/coda/api/agents/{agent_id}/terminals", method="POST")
def flatmap_body(ctx: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    # Only bodies that match the document: a swapped-in value must not turn a
    # negative case into a valid one.
    if not isinstance(body, dict) or not isinstance(body.get("cwd"), (str, type(None))):
        return st.just(body)
    return st.one_of(HOSTILE_FOLDERS.map(lambda folder: {**body, "cwd": folder}), st.just(body))


# Generated text is never an image, so without these the upload route would
# only ever answer 400 or 415: the first bytes of real PNG, JPEG and GIF files
# with any tail reach saving, and a tail past UploadStore.max_size reaches 413.
IMAGE_BYTES = st.builds(
    bytes.__add__,
    st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a"]),
    st.one_of(st.binary(max_size=256), st.just(b"\0" * (UPLOAD_LIMIT + 1))),
)


@schema.hook.apply_to(path="/coda/api/uploads", method="POST")
def flatmap_body(ctx: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:  # noqa: F811 -- one hook per route
    if not isinstance(body, dict) or not isinstance(body.get("file"), str):
        return st.just(body)
    return st.one_of(IMAGE_BYTES.map(lambda data: {**body, "file": data}), st.just(body))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_no_secret_and_replies_match_the_document(
    case: schemathesis.Case, fuzz_target: FuzzTarget
) -> None:
    lab = fuzz_target.lab
    _keep_credential_calls_on_the_fake(case, fuzz_target.workspace)
    _keep_long_polls_short(case)
    auth = {"Authorization": f"token {lab.token}"}
    response = case.call(base_url=lab.url.rstrip("/"), headers=auth)
    case.validate_response(response, checks=CHECKS, headers=auth)
    _assert_no_secret(response, fuzz_target.secrets())


def _keep_credential_calls_on_the_fake(case: schemathesis.Case, workspace: FakeWorkspace) -> None:
    """A workspace URL the server would accept is pointed at the fake, never the network.

    URLs it refuses are sent as generated: they exercise the 400 path.
    """
    if case.operation.path != "/coda/api/credentials" or not isinstance(case.body, dict):
        return
    host = case.body.get("host")
    if isinstance(host, str):
        try:
            workspace_url(host)
        except ValueError:
            return
        case.body["host"] = workspace.host


def _keep_long_polls_short(case: schemathesis.Case) -> None:
    """A valid relay poll waits as long as it asks, up to the document's 30 s.

    That is the request timeout, so a long wait is cut to a short one; the wait
    path is still taken. Done here rather than in a hook because the coverage
    phase, which draws the 30 s boundary, does not run hooks.
    """
    if case.operation.path != "/coda/api/notebooks/relay/poll" or not isinstance(case.body, dict):
        return
    wait = case.body.get("wait")
    if isinstance(wait, (int, float)) and not isinstance(wait, bool) and 0.5 < wait <= 30:
        case.body["wait"] = 0.5


def _assert_no_secret(response: Any, known: dict[str, str]) -> None:
    text = response.content.decode("utf-8", "replace")
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    for what, value in known.items():
        assert value not in text, f"the reply body holds the {what}"
        assert value not in headers, f"a reply header holds the {what}"


def test_server_log_holds_no_secret(fuzz_target: FuzzTarget) -> None:
    """Run after the fuzz (file order), so it covers everything the fuzz made the server log.

    The server token is left out: Jupyter itself prints the login URL with it
    at start-up, which is none of this extension's doing.
    """
    # One more request of each kind that touches a secret, in case this test runs alone.
    fuzz_target.lab.api("coda/api/credentials")
    fuzz_target.lab.api("coda/api/gateway")
    log = fuzz_target.lab.log.read_text(encoding="utf-8", errors="replace")
    for what, value in fuzz_target.secrets().items():
        if what != "server token":
            assert value not in log, f"the server log holds the {what}"
