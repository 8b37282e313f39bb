"""Offline, a request nothing answered gets an API-shaped error, never the network.

The default status is 404, as WireMock and Prism answer an unmatched request: no official SDK
retries it (box-sdk-gen retries 429 and every 5xx with back-off, kiota 429/503/504, azure-core 408,
429 and most 5xx, and a typical urllib3 Retry the 5xx), so a miss fails the app at once.
"""

from __future__ import annotations

import logging

from mitmproxy import ctx, http

from . import responses
from .core.profiles import profile_for
from .hosts import Intercept
from .recorder import Recorder
from .replay import MISS_KEY

logger = logging.getLogger(__name__)

MISS_STATUS = 404


class Miss:
    name = "tapeproxy_miss"

    def __init__(self, intercept: Intercept, recorder: Recorder) -> None:
        self.intercept = intercept
        self.recorder = recorder
        self.count = 0

    def load(self, loader):
        loader.add_option("tapeproxy_miss_status", int, MISS_STATUS,
                          "HTTP status of the answer to a request no cassette matches.")

    def request(self, flow: http.HTTPFlow) -> None:
        if responses.handled(flow) or self.recorder.live or not self.intercept.intercepts(flow.request.host):
            return
        try:
            miss = flow.metadata.get(MISS_KEY)
            message = miss.message if miss else f"nothing serves {flow.request.method} {flow.request.pretty_url}"
            context = {}
            if miss and miss.closest:
                context = {"closest": miss.closest.label, "differences": list(miss.differences)}
            flow.response = responses.api_error(flow, ctx.options.tapeproxy_miss_status,
                                                profile_for(flow.request.host).MISS_CODE, "tapeproxy: " + message,
                                                [(responses.MISS_HEADER, "1")], context)
            scrub = responses.scrubber(flow, self.recorder.redactor)
            responses.served_by(flow, "miss", scrub("MISS: " + message))
            flow.marked = ":warning:"
            self.count += 1
            logger.warning(scrub(f"tapeproxy MISS {flow.request.method} {flow.request.pretty_url} "
                                 f"-> {ctx.options.tapeproxy_miss_status}: {message}"))
        except Exception as e:
            responses.internal_error(flow, "miss", e)
