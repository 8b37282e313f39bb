"""Retry-After honoured? A client that comes back to an endpoint before the Retry-After it was
given (on a 429 or 503, whoever sent it) is flagged in the log and counted for the summary."""

from __future__ import annotations

import email.utils
import logging
import time

from mitmproxy import http

from .hosts import Intercept
from .runtime import responses
from .runtime.flowstate import state_of

logger = logging.getLogger(__name__)


def retry_after_seconds(value: str, now: float) -> float | None:
    """Seconds from a Retry-After value: delta-seconds or an HTTP date."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now) if when else None


class RetryAfterWatch:
    name = "tapeproxy_retry_watch"

    def __init__(self, intercept: Intercept, clock=time.monotonic) -> None:
        self.intercept = intercept
        self.clock = clock
        self._until: dict[tuple, tuple[float, float]] = {}  # key -> (may come back at, Retry-After given)
        self.violations = 0

    @staticmethod
    def _key(flow: http.HTTPFlow) -> tuple:
        peer = flow.client_conn.peername[0] if flow.client_conn.peername else ""
        req = flow.request
        return peer, req.headers.get("authorization", ""), req.method, req.host, req.path.partition("?")[0]

    def on_request(self, flow: http.HTTPFlow) -> None:
        """A request observer: the pipeline calls it for intercepted hosts only."""
        if not self._until:
            return
        entry = self._until.pop(self._key(flow), None)
        if entry is None:
            return
        allowed_at, given = entry
        early = allowed_at - self.clock()
        if early > 0:
            self.violations += 1
            state_of(flow).early_retry = early
            logger.warning(
                responses.scrubbed(
                    flow,
                    f"tapeproxy RETRY-AFTER NOT HONOURED: {flow.request.method} {flow.request.pretty_url} came "
                    f"back {given - early:.2f}s after a Retry-After of {given:g}s",
                )
            )

    def on_response(self, flow: http.HTTPFlow) -> None:
        resp = flow.response
        if resp is None or resp.status_code not in (429, 503) or not self.intercept.intercepts(flow.request.host):
            return
        value = resp.headers.get("retry-after")
        seconds = retry_after_seconds(value, time.time()) if value else None
        if seconds is not None:
            # bounded: one entry per client and endpoint, dropped when the client comes back
            if len(self._until) > 10_000:
                self._until.clear()
            self._until[self._key(flow)] = (self.clock() + seconds, seconds)
