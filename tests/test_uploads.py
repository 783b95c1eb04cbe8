"""``POST coda/api/uploads`` through a real Jupyter Server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from coda_jupyter.terminals.uploads import UploadStore, sanitise_name

# A valid 1x1 PNG (signature, IHDR, IDAT, IEND).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a4"
    "a9c80000000049454e44ae426082"
)
LIMIT = 4096


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    # A small limit keeps the over-limit bodies small; the server-wide
    # max_body_size sits below it so the handler has to lift it.
    return {
        **jp_server_config,
        "UploadStore": {"max_size": LIMIT},
        "ServerApp": {**jp_server_config["ServerApp"], "max_body_size": 1024},
    }


def multipart(
    data: bytes, filename: str = "shot.png", field: str = "file", content_type: str = "image/png"
) -> tuple[bytes, dict[str, str]]:
    boundary = secrets.token_hex(12)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


async def upload(jp_fetch: Any, data: bytes, **kwargs: Any) -> Any:
    body, headers = multipart(data, **kwargs)
    return await jp_fetch("coda", "api", "uploads", method="POST", body=body, headers=headers)


async def upload_error(jp_fetch: Any, data: bytes, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await upload(jp_fetch, data, **kwargs)
    response = info.value.response
    assert response is not None, f"no HTTP answer: {info.value}"
    return info.value.code, json.loads(response.body)["message"]


def uploads_dir(home: Path) -> Path:
    return Path(home) / "uploads"


def saved_files_in(folder: Path) -> list[Path]:
    """Visible entries only: the store keeps its own bookkeeping in a hidden file."""
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


def saved_files(home: Path) -> list[Path]:
    return saved_files_in(uploads_dir(home))


async def test_png_is_saved_with_random_prefix_and_private_mode(jp_fetch: Any, jp_home_dir: Path) -> None:
    response = await upload(jp_fetch, PNG, filename="screen shot (1).png")
    assert response.code == 201
    path = Path(json.loads(response.body)["path"])
    assert path.parent == uploads_dir(jp_home_dir)
    assert re.fullmatch(r"[0-9a-f]{8}_screen_shot_1\.png", path.name)
    assert path.read_bytes() == PNG
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert saved_files(jp_home_dir) == [path]


async def test_over_the_limit_is_413_even_above_servers_max_body_size(jp_fetch: Any, jp_home_dir: Path) -> None:
    # Exactly at the limit: accepted although the body is larger than the
    # server's max_body_size of 1 KiB.
    at_limit = PNG + b"\0" * (LIMIT - len(PNG))
    response = await upload(jp_fetch, at_limit)
    assert Path(json.loads(response.body)["path"]).read_bytes() == at_limit

    code, message = await upload_error(jp_fetch, at_limit + b"\0")
    assert code == 413
    assert str(LIMIT) in message
    # Far above: refused from the Content-Length alone.
    code, _ = await upload_error(jp_fetch, PNG + b"\0" * (LIMIT * 40))
    assert code == 413
    assert len(saved_files(jp_home_dir)) == 1


async def test_chunked_body_over_the_limit_is_413(jp_fetch: Any, jp_home_dir: Path) -> None:
    # No Content-Length: the limit is enforced on the bytes as they stream in.
    body, headers = multipart(PNG + b"\0" * (LIMIT * 40))

    async def produce(write: Any) -> None:
        for start in range(0, len(body), 8192):
            await write(body[start : start + 8192])

    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "uploads", method="POST", body_producer=produce, headers=headers)
    assert info.value.code == 413
    assert info.value.response is not None
    assert str(LIMIT) in json.loads(info.value.response.body)["message"]
    assert saved_files(jp_home_dir) == []


async def test_text_renamed_png_is_415(jp_fetch: Any, jp_home_dir: Path) -> None:
    code, message = await upload_error(jp_fetch, b"just some text, honest\n" * 10, filename="evil.png")
    assert code == 415
    assert "image/*" in message
    # A real file type outside the allowlist is refused too.
    code, message = await upload_error(jp_fetch, b"%PDF-1.4\n" + b"0" * 64, filename="doc.png")
    assert code == 415
    assert "application/pdf" in message
    assert saved_files(jp_home_dir) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../../etc/passwd", "passwd.png"),
        ("..\\..\\windows\\evil.png", "evil.png"),
        ("/abs/path/x.png", "x.png"),
        ("..", "upload.png"),
        (".bashrc", "bashrc.png"),
        ("", "upload.png"),
    ],
)
async def test_traversal_names_stay_in_the_folder(jp_fetch: Any, jp_home_dir: Path, name: str, expected: str) -> None:
    response = await upload(jp_fetch, PNG, filename=name)
    path = Path(json.loads(response.body)["path"])
    assert path.parent == uploads_dir(jp_home_dir)
    assert path.name[9:] == expected
    assert [p.name for p in saved_files(jp_home_dir)] == [path.name]


def test_sanitise_name_is_bounded_and_plain() -> None:
    long = sanitise_name("a" * 300 + ".png", "png")
    assert len(long) <= 100 and long.endswith(".png")
    assert sanitise_name("ünïcödé ✓.png", "png") == "n_c_d.png"
    assert sanitise_name("///", "jpg") == "upload.jpg"


@pytest.mark.parametrize(
    ("name", "extension", "expected"),
    [
        ("report.html", "png", "report.png"),
        ("payload.sh", "jpg", "payload.jpg"),
        ("archive.tar.gz", "png", "archive.tar.png"),
        ("no-extension", "gif", "no-extension.gif"),
        ("shot.PNG", "png", "shot.png"),
    ],
)
def test_sanitise_name_takes_the_extension_from_the_sniffed_type(name: str, extension: str, expected: str) -> None:
    assert sanitise_name(name, extension) == expected


async def test_saved_extension_is_the_sniffed_type_not_the_clients(jp_fetch: Any, jp_home_dir: Path) -> None:
    response = await upload(jp_fetch, PNG, filename="report.html", content_type="text/html")
    path = Path(json.loads(response.body)["path"])
    assert re.fullmatch(r"[0-9a-f]{8}_report\.png", path.name), path.name
    assert path.read_bytes() == PNG


async def test_missing_field_and_empty_file_are_400(jp_fetch: Any, jp_home_dir: Path) -> None:
    code, message = await upload_error(jp_fetch, PNG, field="image")
    assert (code, "'file'" in message) == (400, True)
    code, message = await upload_error(jp_fetch, b"")
    assert (code, "empty" in message) == (400, True)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "uploads", method="POST", body=b"raw", headers={"Content-Type": "image/png"})
    assert info.value.code == 400
    assert saved_files(jp_home_dir) == []


BOUNDARY = "b0undary"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (f"multipart/form-data; boundary={BOUNDARY}", b""),
        ("multipart/form-data", b""),
        ("multipart/form-data", b"--x\r\n\r\nhello\r\n--x--\r\n"),
        (f"multipart/form-data; boundary={BOUNDARY}", b"no boundary anywhere"),
        (f"multipart/form-data; boundary={BOUNDARY}", f"--{BOUNDARY}\r\nno headers end".encode()),
        (f"multipart/form-data; boundary={BOUNDARY}", f"--{BOUNDARY}\r\n\r\nbody\r\n--{BOUNDARY}--\r\n".encode()),
        (
            f"multipart/form-data; boundary={BOUNDARY}",
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; filename="x.png"\r\n\r\nx\r\n--{BOUNDARY}--\r\n'.encode(),
        ),
        (f"multipart/form-dataxyz; boundary={BOUNDARY}", f"--{BOUNDARY}--\r\n".encode()),
    ],
    ids=[
        "empty-body",
        "no-boundary-empty",
        "no-boundary",
        "no-final-boundary",
        "unterminated-part-headers",
        "part-without-disposition",
        "part-without-name",
        "bad-subtype",
    ],
)
async def test_malformed_multipart_is_400_json(
    jp_fetch: Any, jp_home_dir: Path, content_type: str, body: bytes
) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "uploads", method="POST", body=body, headers={"Content-Type": content_type})
    assert info.value.code == 400, info.value
    assert info.value.response is not None
    assert json.loads(info.value.response.body)["message"]
    assert saved_files(jp_home_dir) == []


async def test_unauthenticated_is_refused(jp_fetch: Any, jp_home_dir: Path) -> None:
    body, headers = multipart(PNG)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("coda", "api", "uploads", method="POST", body=body, headers={**headers, "Authorization": ""})
    assert info.value.code == 403
    assert saved_files(jp_home_dir) == []


async def test_cookie_session_without_xsrf_token_is_refused(
    jp_fetch: Any, jp_serverapp: Any, jp_home_dir: Path
) -> None:
    login = await jp_fetch("api", "status", params={"token": jp_serverapp.identity_provider.token})
    cookies = "; ".join(value.split(";", 1)[0] for value in login.headers.get_list("Set-Cookie"))
    assert cookies, "the token login set no cookie"
    body, headers = multipart(PNG)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "coda",
            "api",
            "uploads",
            method="POST",
            body=body,
            headers={**headers, "Authorization": "", "Cookie": cookies},
        )
    assert info.value.code == 403
    assert saved_files(jp_home_dir) == []


async def test_ten_concurrent_uploads_are_all_kept(jp_fetch: Any, jp_home_dir: Path) -> None:
    images = [PNG + bytes([n]) * (n + 1) for n in range(10)]
    responses = await asyncio.gather(*(upload(jp_fetch, data, filename="same.png") for data in images))
    paths = [Path(json.loads(r.body)["path"]) for r in responses]
    assert len(set(paths)) == 10
    assert [p.read_bytes() for p in paths] == images
    assert sorted(saved_files(jp_home_dir)) == sorted(paths)


async def test_allowlist_is_configurable(jp_fetch: Any, jp_serverapp: Any, jp_home_dir: Path) -> None:
    store = jp_serverapp.web_app.settings["coda_services"].uploads
    store.allowed_types = ["application/pdf"]
    pdf = b"%PDF-1.4\n" + b"0" * 64
    response = await upload(jp_fetch, pdf, filename="doc.pdf")
    assert Path(json.loads(response.body)["path"]).read_bytes() == pdf
    code, _ = await upload_error(jp_fetch, PNG)
    assert code == 415


def _age(path: Path, seconds: float) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def test_sweep_removes_only_old_uploads(tmp_path: Path) -> None:
    store = UploadStore(directory=str(tmp_path), max_age=3600)
    old, fresh = store.save("old.png", PNG, "png"), store.save("new.png", PNG, "png")
    _age(old, 7200)
    assert store.sweep() == [old]
    assert saved_files_in(tmp_path) == [fresh]
    # max_age 0 keeps everything.
    _age(fresh, 10**6)
    assert UploadStore(directory=str(tmp_path), max_age=0).sweep() == []
    assert fresh.exists()


def test_sweep_never_removes_files_the_server_did_not_write(tmp_path: Path) -> None:
    store = UploadStore(directory=str(tmp_path), max_age=3600)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine", encoding="utf-8")
    # Named like an upload, but put there by the user.
    lookalike = tmp_path / "0123abcd_diagram.png"
    lookalike.write_bytes(PNG)
    (tmp_path / "old-project").mkdir()
    for path in (notes, lookalike, tmp_path / "old-project"):
        _age(path, 30 * 24 * 3600)
    upload = store.save("shot.png", PNG, "png")
    _age(upload, 30 * 24 * 3600)
    assert store.sweep() == [upload]
    assert saved_files_in(tmp_path) == [lookalike, notes, tmp_path / "old-project"]


async def test_cleanup_is_scheduled_when_the_extension_starts(
    jp_fetch: Any, jp_serverapp: Any, jp_home_dir: Path
) -> None:
    store = jp_serverapp.web_app.settings["coda_services"].uploads
    store.max_age = 60
    store.cleanup_interval = 0.1
    folder = uploads_dir(jp_home_dir)
    folder.mkdir()
    month_old_user_file = folder / "holiday.jpg"
    month_old_user_file.write_bytes(b"\xff\xd8\xff" + b"0" * 32)
    _age(month_old_user_file, 30 * 24 * 3600)
    stale = Path(json.loads((await upload(jp_fetch, PNG, filename="stale.png")).body)["path"])
    _age(stale, 120)
    # The server started the store with its services; started again, it takes this test's settings.
    store.stop()
    store.start()
    try:
        assert not stale.exists(), "the first sweep runs at start"
        late = Path(json.loads((await upload(jp_fetch, PNG, filename="late.png")).body)["path"])
        _age(late, 120)
        deadline = time.monotonic() + 10
        while late.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert not late.exists(), "the periodic sweep never ran"
        assert month_old_user_file.exists(), "a file the user put in the folder was removed"
    finally:
        store.stop()
