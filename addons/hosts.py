"""Which hosts tapeproxy intercepts, and the mitmproxy settings that make offline interception work.

Only the API hosts (plus `tapeproxy_hosts`) are TLS-intercepted; every other host is tunnelled
untouched. `connection_strategy=lazy` lets mitmproxy finish the client's TLS handshake without
contacting the server, which is what makes offline replay possible at all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence  # mitmproxy parses --set only for this spelling

from mitmproxy import ctx
from mitmproxy.tls import TlsData

from .core.profiles import DEFAULT_HOSTS

CONTROL_HOST = "tapeproxy"  # the control API's host, reached through the proxy (see control.py)
IDENTITY_HOST = "login.microsoftonline.com"


def _simulating() -> bool:
    return bool(getattr(ctx.options, "tapeproxy_simulate", False))  # declared by the simulation addon

logger = logging.getLogger(__name__)


def intercepted_hosts(extra: Sequence[str] = ()) -> frozenset[str]:
    return frozenset(h.lower().rstrip(".") for h in (*DEFAULT_HOSTS, *extra) if h)


def allow_hosts_pattern(hosts) -> str:
    # next_layer matches "host:port" strings (CONNECT target, SNI, Host header).
    return r"^(?:" + "|".join(re.escape(h) for h in sorted(hosts)) + r"):\d+$"


class Intercept:
    """Declares `tapeproxy_hosts` and keeps mitmproxy's interception settings in line with it."""

    name = "tapeproxy_intercept"  # mitmproxy and mitmweb have an "intercept" addon of their own

    def __init__(self) -> None:
        self.hosts = intercepted_hosts()
        self._pattern: str | None = None  # the allow_hosts entry we set, to tell it from the user's

    def load(self, loader):
        loader.add_option("tapeproxy_hosts", Sequence[str], [],
                          "Hosts to intercept besides graph.microsoft.com and api.box.com.")

    def configure(self, updated):
        if updated & {"tapeproxy_hosts", "tapeproxy_simulate"}:
            # the simulation answers Microsoft identity's token endpoint too
            extra = [*ctx.options.tapeproxy_hosts, *([IDENTITY_HOST] if _simulating() else [])]
            self.hosts = intercepted_hosts(extra)
        wanted = {}
        if ctx.options.connection_strategy != "lazy":
            logger.info("tapeproxy: setting connection_strategy=lazy, so no upstream is contacted at CONNECT")
            wanted["connection_strategy"] = "lazy"
        # A user's own ignore_hosts/allow_hosts win; otherwise intercept only our hosts.
        allow = list(ctx.options.allow_hosts)
        if not ctx.options.ignore_hosts and (not allow or allow == [self._pattern]):
            self._pattern = allow_hosts_pattern(self.hosts | {CONTROL_HOST})
            if allow != [self._pattern]:
                wanted["allow_hosts"] = [self._pattern]
        if wanted:
            ctx.options.update(**wanted)

    def tls_start_client(self, tls_start: TlsData) -> None:
        """Prefer HTTP/2 when the client offers it, as Graph and Box do.

        With no server connection (lazy), mitmproxy picks the client's first ALPN choice, and httpx
        lists http/1.1 first; telling tlsconfig's ALPN callback "the server speaks h2" makes it pick
        h2 when offered and fall back to the client's choice otherwise. Runs after tlsconfig's hook.
        """
        sni = tls_start.conn.sni or ""
        app_data = tls_start.ssl_conn.get_app_data() if tls_start.ssl_conn else None
        if (self.intercepts(sni) and isinstance(app_data, dict) and app_data.get("http2")
                and app_data.get("client_alpn") is None and app_data.get("server_alpn") is None):
            app_data["server_alpn"] = b"h2"

    def intercepts(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts
