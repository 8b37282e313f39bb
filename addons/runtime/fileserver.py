"""A server on loopback that only this process talks to: it hands mitmproxy byte ranges of open
files (a cassette's body files), so that mitmproxy streams a recorded body to the client as it
streams an upstream's, never holding it whole.

mitmproxy has no way for an addon to stream a response it makes itself; it does stream what a
server sends (`response.stream`), reading the next piece only once the client has taken the last
(its `drain_writers`), and it is the supported path. So replay routes such a flow here: `offer`
registers an open descriptor and a range under a random token, the flow is sent to
`http://127.0.0.1:PORT/<token>`, and this server sends that range with `sendfile`, then closes
the descriptor. A token is good once, and for OFFER_SECONDS; nothing else is ever served.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time

from ..core import numbers

logger = logging.getLogger(__name__)

OFFER_SECONDS = 60.0  # a token unclaimed this long is dropped, its descriptor closed
MAX_HEAD = 16 * 1024


class FileServer:
    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._starting: asyncio.Task | None = None
        self._offers: dict[str, tuple[int, int, int, float]] = {}  # token -> fd, offset, length, deadline

    async def start(self) -> tuple[str, int]:
        """Its address, listening from the first call on: clients that ask at once share one server."""
        if self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._listen())
        return await asyncio.shield(self._starting)

    async def _listen(self) -> tuple[str, int]:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[:2]

    def offer(self, fd: int, offset: int, length: int) -> str:
        """The path at which the server sends `length` bytes of fd from `offset` (it closes fd)."""
        self._expire()
        token = secrets.token_urlsafe(24)
        self._offers[token] = (fd, offset, length, time.monotonic() + OFFER_SECONDS)
        return f"/{token}"

    def close(self) -> None:
        for fd, *_ in self._offers.values():
            os.close(fd)
        self._offers.clear()
        if self._server is not None:
            self._server.close()
        self._server = self._starting = None

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, (_, _, _, deadline) in self._offers.items() if deadline < now]:
            os.close(self._offers.pop(token)[0])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Requests one after another on a connection: mitmproxy keeps its connection to a server
        for the client's next request (it reads "Connection: close" from the response headers,
        which replay replaces with the recorded ones), so closing after each would race its reuse."""
        try:
            while await self._serve_one(reader, writer):
                pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            logger.debug(f"tapeproxy: a body file stream ended early: {e!r}")  # the client went away
        finally:
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request answered; whether the connection can take another."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # mitmproxy closed it
        lines = head.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        if "chunked" in fields.get("transfer-encoding", "").lower():
            return False  # a request body this server does not read: the connection is not used again
        length = numbers.count(fields.get("content-length", "0"))
        if length is None:
            return False
        while length:  # the request's body, which the bytes sent do not depend on: read and dropped
            length -= len(await reader.readexactly(min(length, 1 << 16)))
        parts = lines[0].split(" ")
        offer = self._offers.pop(parts[1].lstrip("/"), None) if len(head) <= MAX_HEAD and len(parts) == 3 else None
        if offer is None:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return True
        fd, offset, length, _ = offer
        try:
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n".encode())
            with os.fdopen(os.dup(fd), "rb") as f:
                await asyncio.get_running_loop().sendfile(writer.transport, f, offset, length)
            await writer.drain()
        finally:
            os.close(fd)
        return True
