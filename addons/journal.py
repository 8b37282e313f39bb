"""The journal: what each intercepted request got and what served it, bounded in memory."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from mitmproxy import http

from .core.redact import Redactor
from .hosts import CONTROL_HOST, Intercept
from .recorder import ORIGINAL_URL

MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class Call:
    seq: int  # 1-based, over the proxy's life
    method: str
    url: str  # secrets in the query shown as ***
    status: int | None  # None: no response (a fault, a dropped connection)
    source: str  # cassette, scenario, simulation, batch, miss, upstream, error, killed
    label: str  # what served it, e.g. "cassette box-tasks.yaml #3 (1 of 1)"
    duration_ms: int | None


class Journal:
    name = "tapeproxy_journal"

    def __init__(self, intercept: Intercept, maxlen: int = MAX_ENTRIES) -> None:
        self.intercept = intercept
        self.entries: deque[Call] = deque(maxlen=maxlen)
        self.total = 0
        self._lock = threading.Lock()  # read from other threads (the pytest plugin)
        self._scrub = Redactor().scrub_url

    def _note(self, flow: http.HTTPFlow, status: int | None, source: str, label: str) -> None:
        req = flow.request
        host = req.host.lower()
        if host == CONTROL_HOST or not self.intercept.intercepts(host):
            return
        end = flow.response.timestamp_end if flow.response else None
        duration = round((end - req.timestamp_start) * 1000) if end and req.timestamp_start else None
        url = flow.metadata.get(ORIGINAL_URL, req.pretty_url)
        with self._lock:
            self.total += 1
            self.entries.append(Call(self.total, req.method, self._scrub(url), status, source, label, duration))

    def response(self, flow: http.HTTPFlow) -> None:
        served = flow.metadata.get("tapeproxy") or {}
        source = served.get("source") or ("upstream" if ORIGINAL_URL in flow.metadata else "passthrough")
        self._note(flow, flow.response.status_code, source, served.get("label", source))

    def error(self, flow: http.HTTPFlow) -> None:
        served = flow.metadata.get("tapeproxy") or {}
        self._note(flow, None, "killed" if served else "error", served.get("label") or str(flow.error))

    def since(self, seq: int) -> list[Call]:
        with self._lock:
            return [c for c in self.entries if c.seq > seq]
