"""``POST coda/api/uploads``: images pasted or dropped onto a terminal.

The saved path is typed into the terminal, so a coding agent can read the
image from disk. The body is streamed so the size limit is enforced on bytes
as they arrive, not after an unbounded buffer has been built.
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import httputil, web

from ..terminals.uploads import UploadStore
from .base import CodaAPIHandler

# Room for the multipart boundaries and part headers around the file itself.
_MULTIPART_OVERHEAD = 64 * 1024
# Bytes still read (and dropped) after a chunked body went over the limit.
_DRAIN_ALLOWANCE = 1024 * 1024


@web.stream_request_body
class UploadsHandler(CodaAPIHandler):
    auth_resource = "coda:uploads"

    _body: bytearray
    _too_large: bool

    @property
    def store(self) -> UploadStore:
        return self.services.uploads

    async def prepare(self) -> None:  # type: ignore[override]
        self._body = bytearray()
        self._too_large = False
        await super().prepare()
        if self.request.method != "POST":
            return
        # Refuse before reading a byte from anyone who may not upload.
        if self.current_user is None:
            raise web.HTTPError(403, "not authenticated")
        limit = self.store.max_size + _MULTIPART_OVERHEAD
        declared = self.request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise web.HTTPError(413, self._too_large_message())
        # The server-wide max_body_size would otherwise end a request between
        # the two limits with a bare 400 before this handler could answer 413.
        # A chunked body (no Content-Length) gets its 413 from data_received;
        # the allowance lets that happen before tornado's own cut-off.
        server_limit = int(self.settings["serverapp"].max_body_size)
        self.request.connection.set_max_body_size(  # type: ignore[union-attr]
            max(limit + _DRAIN_ALLOWANCE, server_limit)
        )

    def data_received(self, chunk: bytes) -> None:
        if self._too_large:
            return
        if len(self._body) + len(chunk) > self.store.max_size + _MULTIPART_OVERHEAD:
            # Answer at once (a chunked body has no Content-Length to refuse
            # up front); the rest of the body is read and dropped.
            self._too_large = True
            self._body = bytearray()
            error = web.HTTPError(413, self._too_large_message())
            self.send_error(413, exc_info=(web.HTTPError, error, None))
            return
        self._body.extend(chunk)

    @web.authenticated
    @authorized
    def post(self) -> None:
        if self._too_large:
            return
        upload = self._file_part()
        data = upload["body"]
        if len(data) > self.store.max_size:
            raise web.HTTPError(413, self._too_large_message())
        # Imported here: its signature tables are only needed once a file arrives.
        import filetype

        kind = filetype.guess(data)
        if kind is None or not self.store.accepts(kind.mime):
            found = kind.mime if kind else "unrecognised data"
            raise web.HTTPError(415, f"{found} is not accepted; allowed: {', '.join(self.store.allowed_types)}")
        path = self.store.save(upload.get("filename", ""), data, kind.extension)
        self.log.info("coda-jupyter: saved upload %s (%d bytes, %s)", path.name, len(data), kind.mime)
        self.write_json({"path": str(path)}, status=201)

    def _file_part(self) -> httputil.HTTPFile:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "multipart/form-data":
            raise web.HTTPError(400, "send the image as multipart/form-data with a field named 'file'")
        arguments: dict[str, list[bytes]] = {}
        files: dict[str, list[httputil.HTTPFile]] = {}
        try:
            httputil.parse_body_arguments(content_type, bytes(self._body), arguments, files)
        except httputil.HTTPInputError as err:
            # Tornado's messages name what is wrong (no boundary, a part without
            # headers or name) and never quote the body.
            raise web.HTTPError(400, f"malformed multipart body: {err}") from None
        parts = files.get("file")
        if not parts and arguments.get("file"):
            # A part without a filename is parsed as a plain field; its bytes
            # are still the upload, it just gets a generated name.
            parts = [httputil.HTTPFile(filename="", body=arguments["file"][0], content_type="")]
        if not parts:
            raise web.HTTPError(400, "no file provided: the multipart field 'file' is missing")
        if not parts[0]["body"]:
            raise web.HTTPError(400, "the uploaded file is empty")
        return parts[0]

    def _too_large_message(self) -> str:
        return f"upload is larger than the limit of {self.store.max_size} bytes"


ROUTES: list[tuple[str, type]] = [(r"/coda/api/uploads", UploadsHandler)]
