"""Which hosts tapeproxy intercepts, and the mitmproxy settings that make offline interception work.

Intercepted: the API profiles' hosts (Graph, Box with its upload and *.boxcloud.com download hosts,
Microsoft's sign-in hosts), every host a loaded cassette names, and `tapeproxy_hosts`. Every other
host is tunnelled untouched. `connection_strategy=lazy` lets mitmproxy finish the client's TLS
handshake without contacting the server, which is what makes offline replay possible at all.
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Sequence  # mitmproxy parses --set only for this spelling

from mitmproxy import ctx
from mitmproxy.proxy import layers
from mitmproxy.proxy.layer import NextLayer
from mitmproxy.proxy.layers.http import HTTPMode
from mitmproxy.tls import ClientHelloData, TlsData

from .core.control_api import CONTROL_HOST
from .core.profiles import DEFAULT_HOST_SUFFIXES, DEFAULT_HOSTS

logger = logging.getLogger(__name__)


def intercepted_hosts(extra: Sequence[str] = ()) -> frozenset[str]:
    return frozenset(h.lower().rstrip(".") for h in (*DEFAULT_HOSTS, *extra) if h)


class Intercept:
    """Declares `tapeproxy_hosts` and keeps mitmproxy's interception settings in line with it."""

    name = "tapeproxy_intercept"  # mitmproxy and mitmweb have an "intercept" addon of their own

    def __init__(self) -> None:
        self.hosts = intercepted_hosts()
        self._recorded: frozenset[str] = frozenset()  # hosts the loaded cassettes name
        self.blocking = False
        self.allowed: tuple[str, ...] = ()  # globs of hosts let through while blocking

    def load(self, loader):
        loader.add_option(
            "tapeproxy_hosts",
            Sequence[str],
            [],
            "Hosts to intercept besides the API hosts and those the cassettes name.",
        )
        loader.add_option(
            "tapeproxy_block_unknown_hosts",
            bool,
            False,
            "Refuse hosts tapeproxy does not answer (a 403 naming the host) instead of tunnelling them.",
        )
        loader.add_option(
            "tapeproxy_allowed_hosts",
            Sequence[str],
            [],
            "With tapeproxy_block_unknown_hosts: hosts (globs, e.g. *.example.com) let through to the network.",
        )

    def configure(self, updated):
        if "tapeproxy_hosts" in updated:
            self.recorded_hosts(self._recorded)
        if updated & {"tapeproxy_block_unknown_hosts", "tapeproxy_allowed_hosts"}:
            self.blocking = ctx.options.tapeproxy_block_unknown_hosts
            self.allowed = tuple(h.lower().rstrip(".") for h in ctx.options.tapeproxy_allowed_hosts if h)
        if ctx.options.connection_strategy != "lazy":
            logger.info("tapeproxy: setting connection_strategy=lazy, so no upstream is contacted at CONNECT")
            ctx.options.update(connection_strategy="lazy")

    def tls_clienthello(self, data: ClientHelloData) -> None:
        """Tunnel TLS for other hosts untouched, unless the user set ignore_hosts or allow_hosts.

        Decided from the ClientHello mitmproxy has parsed already: allow_hosts would parse it again,
        and run its regexes, at each of the three next-layer decisions of every connection.
        """
        if ctx.options.ignore_hosts or ctx.options.allow_hosts:
            return
        address = data.context.server.address
        sni = data.client_hello.sni or ""
        if not (self.intercepts(sni) or (address and self.intercepts(address[0]))):
            # a blocked host is answered (its 403, over TLS with tapeproxy's CA), not tunnelled
            data.ignore_connection = not self.blocks(sni or (address[0] if address else ""))

    def next_layer(self, nextlayer: NextLayer) -> None:
        """Inside an intercepted tunnel everything is HTTP: Graph and Box speak nothing else.

        mitmproxy guesses raw TCP for bytes that do not look like HTTP (an unknown method, say) and
        would pass them upstream; parsed as HTTP they get an answer, and nothing leaves the machine.
        Runs after mitmproxy's own next_layer addon.
        """
        context = nextlayer.context
        # a TCPLayer without a flow is a passthrough the user asked for (ignore_hosts): left alone
        if (
            isinstance(nextlayer.layer, layers.TCPLayer)
            and nextlayer.layer.flow is not None
            and (
                self.intercepts(context.client.sni or "")
                or (context.server.address and self.intercepts(context.server.address[0]))
                or (context.server.address and self.blocks(context.server.address[0]))
            )
        ):
            nextlayer.layer = layers.HttpLayer(context, HTTPMode.transparent)

    def tls_start_client(self, tls_start: TlsData) -> None:
        """Prefer HTTP/2 when the client offers it, as Graph and Box do.

        With no server connection (lazy), mitmproxy picks the client's first ALPN choice, and httpx
        lists http/1.1 first; telling tlsconfig's ALPN callback "the server speaks h2" makes it pick
        h2 when offered and fall back to the client's choice otherwise. Runs after tlsconfig's hook.
        """
        sni = tls_start.conn.sni or ""
        app_data = tls_start.ssl_conn.get_app_data() if tls_start.ssl_conn else None
        if (
            self.intercepts(sni)
            and isinstance(app_data, dict)
            and app_data.get("http2")
            and app_data.get("client_alpn") is None
            and app_data.get("server_alpn") is None
        ):
            app_data["server_alpn"] = b"h2"

    def intercepts(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return host in self.hosts or host.endswith(DEFAULT_HOST_SUFFIXES)

    def blocks(self, host: str) -> bool:
        """Whether tapeproxy_block_unknown_hosts refuses this host (one it neither answers nor allows)."""
        if not self.blocking:
            return False
        host = host.lower().rstrip(".")
        if not host or host == CONTROL_HOST or self.intercepts(host):
            return False
        return not any(fnmatch.fnmatchcase(host, allowed) for allowed in self.allowed)

    def recorded_hosts(self, hosts: frozenset[str]) -> None:
        """Intercept every host the loaded cassettes name: what a cassette holds never goes out."""
        self._recorded = hosts
        self.hosts = intercepted_hosts([*ctx.options.tapeproxy_hosts, *hosts])

    def described(self, most: int = 24) -> str:
        """The intercepted hosts, for the start-up line (the first `most` of them)."""
        names = [*sorted(self.hosts), *("*" + s for s in DEFAULT_HOST_SUFFIXES)]
        more = f" and {len(names) - most} more" if len(names) > most else ""
        return ", ".join(names[:most]) + more
