"""The control port: the control API served over plain HTTP/1.1 on a port of its own, so that it is
reachable in every mode (a reverse proxy has no http://tapeproxy/) and by clients that know no proxy.

Deliberately small: one request per connection (Connection: close), a head of at most 64 KiB and a
body of at most 2 MiB given by Content-Length, each read within a few seconds, and at most
MAX_CLIENTS connections at once; anything else is answered 4xx and closed. It runs on the proxy's
event loop, so a slow or hostile client costs a waiting coroutine, never a stall.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable

from ..core.control_api import CONTROL_HEADERS

logger = logging.getLogger(__name__)

MAX_HEAD = 64 << 10
MAX_BODY = 2 << 20
READ_TIMEOUT = 10.0
MAX_CLIENTS = 64
REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout"}
REASONS |= {409: "Conflict", 411: "Length Required", 413: "Content Too Large", 500: "Internal Server Error"}
REASONS |= {503: "Service Unavailable"}

# (method, target, headers with lower-cased names, body, peer) -> (status, content type, body)
Handler = Callable[[str, str, dict[str, str], bytes, tuple], Awaitable[tuple[int, str, bytes]]]


class ControlServer:
    def __init__(self, handle: Handler) -> None:
        self.handle = handle
        self.server: asyncio.Server | None = None
        self.url: str | None = None
        self._clients = 0

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._serve, host, port, limit=MAX_HEAD)
        bound = self.server.sockets[0].getsockname()
        name = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{name}:{bound[1]}"
        logger.debug(f"tapeproxy: control API at {self.url}")

    def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self._clients += 1
        try:
            if self._clients > MAX_CLIENTS:
                await _send(writer, *_error(503, "too many control API connections at once"))
                return
            try:
                reply = await asyncio.wait_for(self._one(reader, peer), READ_TIMEOUT)
            except TimeoutError:
                reply = _error(408, f"the request did not arrive within {READ_TIMEOUT:.0f} s")
            await _send(writer, *reply)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away
        except Exception:
            logger.exception("tapeproxy: control port")
            try:
                await _send(writer, *_error(500, "the control API failed; the proxy's log says why"))
            except ConnectionError:
                pass
        finally:
            self._clients -= 1
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, peer) -> tuple[int, str, bytes]:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return _error(413, f"a request head is at most {MAX_HEAD >> 10} KiB")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return _error(400, "expected an HTTP/1.1 request line")
        method, target = parts[0].upper(), parts[1]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, sep, value = line.partition(":")
                if not sep:
                    return _error(400, f"not a header line: {line[:60]!r}")
                headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return _error(411, "send the body with a Content-Length")
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            return _error(400, "Content-Length is not a number")
        if not 0 <= length <= MAX_BODY:
            return _error(413, f"a control API body is at most {MAX_BODY >> 20} MiB")
        body = await reader.readexactly(length) if length else b""
        if target.startswith(("http://", "https://")):  # absolute form, as a proxy client would send it
            target = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else "/"
        return await self.handle(method, target, headers, body, peer)


def _error(status: int, message: str) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps({"error": message}).encode() + b"\n"


async def _send(writer: asyncio.StreamWriter, status: int, ctype: str, body: bytes) -> None:
    fields = "".join(f"{name}: {value}\r\n" for name, value in CONTROL_HEADERS)
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
        f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{fields}Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
