"""Who can reach the proxy: loopback by default; another address only with a password or an opt-in.

A tapeproxy serves recorded API traffic, and forwards requests, for whoever connects. mitmproxy
listens on every interface by default; tapeproxy listens on 127.0.0.1 unless told otherwise, and
refuses to start on another address without `proxyauth` (--proxy-auth) or `tapeproxy_allow_remote`
(--allow-remote).
"""

from __future__ import annotations

import ipaddress
import logging

from mitmproxy import ctx, exceptions
from mitmproxy.proxy import mode_specs

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


class Exposure:
    name = "tapeproxy_exposure"

    def load(self, loader):
        loader.add_option("tapeproxy_allow_remote", bool, False,
                          "Allow listening on a non-loopback address without proxyauth (anyone who can reach "
                          "it may use the proxy).")

    def configure(self, updated):
        if not updated & {"listen_host", "mode", "proxyauth", "tapeproxy_allow_remote"}:
            return
        if ctx.options.listen_host == "":  # mitmproxy's default: every interface
            logger.info(f"tapeproxy: listening on {LOOPBACK} only (set listen_host to listen elsewhere)")
            ctx.options.update(listen_host=LOOPBACK)
            return
        if getattr(ctx.options, "proxyauth", "") or ctx.options.tapeproxy_allow_remote:
            return
        for spec in ctx.options.mode:
            try:
                host = mode_specs.ProxyMode.parse(spec).listen_host(ctx.options.listen_host)
            except ValueError:
                continue  # mitmproxy reports a bad mode itself
            if not is_loopback(host or "0.0.0.0"):
                raise exceptions.OptionsError(
                    f"listening on {host or 'every interface'} would let anyone who can reach this machine use "
                    f"the proxy and read what it serves: add --proxy-auth USER:PASS (mitmproxy's proxyauth), "
                    f"or --allow-remote (tapeproxy_allow_remote) if that is intended")
