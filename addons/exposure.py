"""Who can reach the proxy: loopback by default; another address only with a password or an opt-in.

A tapeproxy serves recorded API traffic, and forwards requests, for whoever connects. mitmproxy
listens on every interface by default; tapeproxy listens on 127.0.0.1 unless told otherwise, and
refuses to start on another address without `proxyauth` (--proxy-auth) or `tapeproxy_allow_remote`
(--allow-remote).
"""

from __future__ import annotations

import logging

from mitmproxy import ctx, exceptions
from mitmproxy.proxy import mode_specs

from .core.addresses import is_loopback

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


class Exposure:
    name = "tapeproxy_exposure"

    def __init__(self) -> None:
        self._defaulted = False  # listen_host was mitmproxy's default, every interface: loopback now

    def load(self, loader):
        loader.add_option(
            "tapeproxy_allow_remote",
            bool,
            False,
            "Allow listening on a non-loopback address without proxyauth (anyone who can reach it may use the proxy).",
        )

    def configure(self, updated):
        if not updated & {"listen_host", "mode", "proxyauth", "tapeproxy_allow_remote"}:
            return
        if ctx.options.listen_host == "":  # mitmproxy's default: every interface
            self._defaulted = True
            ctx.options.update(listen_host=LOOPBACK)
            return
        if "listen_host" in updated and ctx.options.listen_host != LOOPBACK:
            self._defaulted = False
        if self._allowed():
            return
        for spec in ctx.options.mode:
            try:
                host = mode_specs.ProxyMode.parse(spec).listen_host(ctx.options.listen_host)
            except ValueError:
                continue  # mitmproxy reports a bad mode itself
            if not is_loopback(host or "0.0.0.0"):
                raise exceptions.OptionsError(_refusal(host or "every interface"))

    def running(self):
        """The last check, on the addresses actually bound: mitmdump 12 starts its servers without
        the listen_host set above, so there it can still be every interface; then stop at once."""
        if self._defaulted and ctx.options.listen_host == LOOPBACK:
            logger.info(
                f"tapeproxy: listening on {LOOPBACK} only (--host, or listen_host in mitmdump, listens elsewhere)"
            )
        if self._allowed():
            return
        servers = ctx.master.addons.get("proxyserver").servers
        exposed = [addr for server in servers for addr in server.listen_addrs if not is_loopback(addr[0])]
        if exposed:
            logger.error(
                "tapeproxy: "
                + _refusal(", ".join(f"{h or '*'}:{p}" for h, p, *_ in exposed))
                + "; or listen on loopback only: --listen-host 127.0.0.1"
            )
            ctx.master.shutdown()

    @staticmethod
    def _allowed() -> bool:
        return bool(getattr(ctx.options, "proxyauth", "")) or ctx.options.tapeproxy_allow_remote


def _refusal(where: str) -> str:
    return (
        f"listening on {where} would let anyone who can reach this machine use the proxy and read what it "
        f"serves: add --proxy-auth USER:PASS (mitmproxy's proxyauth), or --allow-remote "
        f"(tapeproxy_allow_remote) if that is intended"
    )
