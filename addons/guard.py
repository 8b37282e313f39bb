"""The offline guard: in replay and demo, never open a connection to an intercepted host, and never
let a connection to another host go unnoticed.

mitmproxy forwards a flow upstream when no addon answered it, including when an addon raised.
Refusing the server connection here is the last line that keeps a replaying proxy offline. A host
tapeproxy does not intercept is tunnelled to the network as asked; offline, each such host is
logged once and every such connection counted for the exit summary.

A proxy that listens beyond loopback (--allow-remote, --proxy-auth) must not hand its callers
what only its own host may reach: for a non-loopback client, a target that resolves to a loopback,
link-local or unspecified address, or to the address the client reached the proxy on, is refused
unless tapeproxy_allow_local_targets says otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import Counter

from mitmproxy import ctx
from mitmproxy.proxy.server_hooks import ServerConnectionHookData

from .core.addresses import ip_of, loopback_peer
from .hosts import Intercept
from .runtime.mode import Mode

logger = logging.getLogger(__name__)


class OfflineGuard:
    name = "tapeproxy_guard"

    def __init__(self, intercept: Intercept, mode: Mode) -> None:
        self.intercept = intercept
        self.mode = mode
        self.tunnelled: Counter = Counter()  # host -> connections passed to the network while offline

    def load(self, loader):
        loader.add_option(
            "tapeproxy_allow_local_targets",
            bool,
            False,
            "Let non-loopback clients reach the proxy host's own services (loopback, link-local, "
            "its own addresses) through it.",
        )

    async def server_connect(self, data: ServerConnectionHookData) -> None:
        if data.server.address is None:
            return
        host, port = data.server.address
        if (host, port) == self.mode.file_server:  # this process's own body file server, on loopback
            return
        if not self.mode.live and self.intercept.intercepts(host):  # first: offline, not even a DNS lookup
            mode = ctx.options.tapeproxy_record_mode
            data.server.error = f"tapeproxy is offline (record mode '{mode}'): refused to connect to {host}:{port}"
            logger.warning(data.server.error)
            return
        if self.intercept.blocks(host) and (host.lower(), port) not in self.mode.upstream_targets:
            # before any DNS lookup; the pipeline answered every HTTP request to it, this is what is not HTTP
            data.server.error = (
                f"tapeproxy: refused to connect to {host}:{port}: not a host tapeproxy answers, and "
                f"--block-unknown-hosts is on (--allow-host {host} lets it through)"
            )
            logger.warning(data.server.error)
            return
        client = data.client
        if not ctx.options.tapeproxy_allow_local_targets and not loopback_peer(client.peername):
            await _refuse_local_target(data, (host, port), client.sockname)
            if data.server.error:
                return
        if self.mode.live:
            return
        if host not in self.tunnelled:
            logger.warning(
                f"tapeproxy: tunnelling {host}:{port} to the network untouched: not an intercepted host "
                f"(--intercept-host {host} answers it here)"
            )
        self.tunnelled[host] += 1


async def _refuse_local_target(data: ServerConnectionHookData, address: tuple[str, int], sockname) -> None:
    host, port = address
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return  # it cannot be reached at all: mitmproxy says so when it tries
    own = ip_of(sockname[0]) if sockname else None
    for *_, sockaddr in infos:
        addr = ip_of(str(sockaddr[0]))
        if addr is not None and (addr.is_loopback or addr.is_link_local or addr.is_unspecified or addr == own):
            data.server.error = (
                f"tapeproxy: refused to take a remote client to {host}:{port} ({addr}), an address "
                "of the proxy's own host (--allow-local-targets allows it)"
            )
            logger.warning(data.server.error)
            return
