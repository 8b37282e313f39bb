"""Offline, a request nothing answered gets an API-shaped error, never the network.

The default status is 404, as WireMock and Prism answer an unmatched request: no official SDK
retries it (box-sdk-gen retries 429 and every 5xx with back-off, kiota 429/503/504, azure-core 408,
429 and most 5xx, and a typical urllib3 Retry the 5xx), so a miss fails the app at once.
"""

from __future__ import annotations

import logging

from mitmproxy import ctx, http

from .core.profiles import profile_for
from .runtime import responses
from .runtime.flowstate import state_of
from .runtime.mode import Mode

logger = logging.getLogger(__name__)

MISS_STATUS = 404


class Miss:
    name = "tapeproxy_miss"
    where = "miss"

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.count = 0

    def load(self, loader):
        loader.add_option(
            "tapeproxy_miss_status", int, MISS_STATUS, "HTTP status of the answer to a request no cassette matches."
        )

    def answer(self, flow: http.HTTPFlow) -> None:
        if self.mode.live:
            return
        miss = state_of(flow).miss
        message = miss.message if miss else f"nothing serves {flow.request.method} {flow.request.pretty_url}"
        context = {}
        if miss and miss.closest:
            context = {"closest": miss.closest.label, "differences": list(miss.differences)}
        flow.response = responses.api_error(
            flow,
            ctx.options.tapeproxy_miss_status,
            profile_for(flow.request.host).MISS_CODE,
            "tapeproxy: " + message,
            [(responses.MISS_HEADER, "1")],
            context,
        )
        scrub = responses.scrubber(flow, self.mode.redactor)
        responses.served_by(flow, "miss", scrub("MISS: " + message))
        flow.marked = ":warning:"
        self.count += 1
        logger.warning(
            scrub(
                f"tapeproxy MISS {flow.request.method} {flow.request.pretty_url} "
                f"-> {ctx.options.tapeproxy_miss_status}: {message}"
            )
        )
