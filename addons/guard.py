"""The offline guard: in replay and demo, never open a connection to an intercepted host, and never
let a connection to another host go unnoticed.

mitmproxy forwards a flow upstream when no addon answered it, including when an addon raised.
Refusing the server connection here is the last line that keeps a replaying proxy offline. A host
tapeproxy does not intercept is tunnelled to the network as asked; offline, each such host is
logged once and every such connection counted for the exit summary.
"""

from __future__ import annotations

import logging
from collections import Counter

from mitmproxy import ctx
from mitmproxy.proxy.server_hooks import ServerConnectionHookData

from .hosts import Intercept
from .recorder import Recorder

logger = logging.getLogger(__name__)


class OfflineGuard:
    name = "tapeproxy_guard"

    def __init__(self, intercept: Intercept, recorder: Recorder) -> None:
        self.intercept = intercept
        self.recorder = recorder
        self.tunnelled: Counter = Counter()  # host -> connections passed to the network while offline

    def server_connect(self, data: ServerConnectionHookData) -> None:
        if self.recorder.live or data.server.address is None:
            return
        host, port = data.server.address
        if self.intercept.intercepts(host):
            mode = ctx.options.tapeproxy_record_mode
            data.server.error = f"tapeproxy is offline (record mode '{mode}'): refused to connect to {host}:{port}"
            logger.warning(data.server.error)
            return
        if host not in self.tunnelled:
            logger.warning(f"tapeproxy: tunnelling {host}:{port} to the network untouched: not an intercepted host "
                           f"(--intercept-host {host} answers it here)")
        self.tunnelled[host] += 1
