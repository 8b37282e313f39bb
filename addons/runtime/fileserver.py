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

logger = logging.getLogger(__name__)

OFFER_SECONDS = 60.0  # a token unclaimed this long is dropped, its descriptor closed
MAX_HEAD = 16 * 1024


class FileServer:
    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._offers: dict[str, tuple[int, int, int, float]] = {}  # token -> fd, offset, length, deadline
        self.address: tuple[str, int] | None = None

    async def start(self) -> tuple[str, int]:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
            self.address = self._server.sockets[0].getsockname()[:2]
        assert self.address is not None
        return self.address

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
            self._server = None

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, (_, _, _, deadline) in self._offers.items() if deadline < now]:
            os.close(self._offers.pop(token)[0])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        offer = None
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if len(head) <= MAX_HEAD:
                parts = head.split(b" ", 2)
                offer = self._offers.pop(parts[1].decode("latin-1").lstrip("/"), None) if len(parts) > 2 else None
            if offer is None:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                await writer.drain()
                return
            fd, offset, length, _ = offer
            writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n".encode())
            with os.fdopen(os.dup(fd), "rb") as f:
                await asyncio.get_running_loop().sendfile(writer.transport, f, offset, length)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
            logger.debug(f"tapeproxy: a body file stream ended early: {e!r}")  # the client went away
        finally:
            if offer is not None:
                os.close(offer[0])
            writer.close()
