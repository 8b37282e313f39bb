"""The offline guard: in replay and demo, never open a connection to an intercepted host.

mitmproxy forwards a flow upstream when no addon answered it, including when an addon raised.
Refusing the server connection here is the last line that keeps a replaying proxy offline.
"""

from __future__ import annotations

import logging

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

    def server_connect(self, data: ServerConnectionHookData) -> None:
        if self.recorder.live or data.server.address is None:
            return
        host, port = data.server.address
        if self.intercept.intercepts(host):
            mode = ctx.options.tapeproxy_record_mode
            data.server.error = f"tapeproxy is offline (record mode '{mode}'): refused to connect to {host}:{port}"
            logger.warning(data.server.error)
