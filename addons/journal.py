"""The journal: what each intercepted request got and what served it, bounded in memory (the last
tapeproxy_journal_size requests, their bodies capped); a live line per request if asked (the CLI
does, as text or as JSON objects), and the summary and report at exit. The control API reads it
(GET /requests) and the pytest plugin asserts on it."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from mitmproxy import ctx, http

from .core import permission_report
from .core.control_api import CONTROL_HOST
from .core.guidance import RULES, Finding, operation
from .core.journal_filter import Filter
from .core.permission_report import PermissionUsage
from .core.redact import Redactor, is_token_exchange
from .hosts import Intercept
from .runtime.flowstate import served, state_of

logger = logging.getLogger(__name__)

MAX_ENTRIES = 5_000
BODY_CAP = 4096  # bytes of each body a journal entry keeps: enough to see what was sent
LOG_FORMATS = ("text", "json")
MAX_LISTED = 100  # misses and early retries kept for the summary
_COLOURS = {
    "cassette": "32",
    "simulation": "36",
    "signin": "36",
    "scenario": "33",
    "batch": "36",
    "spec": "35",
    "upstream": "34",
    "miss": "31",
    "error": "31",
    "killed": "35",
}


@dataclass(slots=True)  # not frozen: one is made per request, and a frozen one costs several times as much to make
class Call:
    seq: int  # 1-based, over the proxy's life
    method: str
    url: str  # secrets in the query shown as ***
    status: int | None  # None: no response (a fault, a dropped connection)
    source: str  # cassette, scenario, simulation, signin, batch, spec, miss, upstream, error, killed
    label: str  # what served it, e.g. "cassette box-tasks.yaml #3 (1 of 1)"
    duration_ms: int | None
    time: float = 0.0  # when the request came, seconds since the epoch
    # headers as they came, undecoded: kept by reference, decoded only when someone asks
    request_fields: tuple[tuple[bytes, bytes], ...] = ()
    request_body: bytes = b""  # the first BODY_CAP bytes; none of a token exchange
    request_size: int = 0
    response_fields: tuple[tuple[bytes, bytes], ...] = ()
    response_body: bytes = b""
    response_size: int = 0
    closest: str = ""  # a miss: the closest recording, and what differed from it
    differences: tuple[str, ...] = ()

    @property
    def when(self) -> str:
        return datetime.fromtimestamp(self.time, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @property
    def reason(self) -> str:
        """Why it missed, for a miss; "" otherwise."""
        return self.label.removeprefix("MISS: ") if self.source == "miss" else ""

    @property
    def request_headers(self) -> list[tuple[str, str]]:
        return _decoded(self.request_fields)

    @property
    def response_headers(self) -> list[tuple[str, str]]:
        return _decoded(self.response_fields)

    def as_json(self) -> dict:
        """The entry as the control API and the JSON log show it."""
        return {
            "id": self.seq,
            "time": self.when,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "source": self.source,
            "served_by": self.label,
            "latency_ms": self.duration_ms,
        }


def _decoded(fields: tuple[tuple[bytes, bytes], ...]) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("utf-8", "surrogateescape")) for k, v in fields]


class Journal:
    name = "tapeproxy_journal"

    def __init__(self, intercept: Intercept, maxlen: int = MAX_ENTRIES) -> None:
        self.intercept = intercept
        self.entries: deque[Call] = deque(maxlen=maxlen)
        self.total = 0
        self._lock = threading.Lock()  # read from other threads (the pytest plugin)
        self._scrub = Redactor().scrub_url
        self.logger = logger
        # where live lines go; the CLI writes them to its terminal directly (runtime/termlines.py)
        self.write_line: Callable[[str], None] = logger.info
        self.counts: Counter = Counter()  # (source, host) -> requests, over the proxy's whole life
        self.misses: list[Call] = []
        self.early: list[tuple[Call, float]] = []
        self.live_lines = False
        self.as_json = False
        self.colour = False
        self.permissions: PermissionUsage | None = None  # the Graph calls' permissions, for the report
        self.guidance: Counter = Counter()  # guidance rule -> findings, over the proxy's whole life
        self._guidance_said: set[tuple] = set()  # (rule, method, operation) already given a line

    def load(self, loader):
        loader.add_option("tapeproxy_journal", bool, False, "Log a line per request: what served it, how fast.")
        loader.add_option(
            "tapeproxy_log_format",
            str,
            "text",
            "The line per request: text, or json (one object per line, for CI to parse).",
            choices=list(LOG_FORMATS),
        )
        loader.add_option(
            "tapeproxy_journal_size",
            int,
            MAX_ENTRIES,
            "Requests the journal keeps (the control API's GET /requests): the newest this many.",
        )
        loader.add_option("tapeproxy_report", str, "", "At exit, write the summary to this file (.json or .md).")

    def configure(self, updated):
        if "tapeproxy_journal" in updated or "tapeproxy_log_format" in updated:
            self.live_lines = ctx.options.tapeproxy_journal
            self.as_json = ctx.options.tapeproxy_log_format == "json"
            self.colour = sys.stdout.isatty() and not self.as_json
        if "tapeproxy_journal_size" in updated:
            size = ctx.options.tapeproxy_journal_size
            if size < 1:
                from mitmproxy import exceptions

                raise exceptions.OptionsError(f"tapeproxy_journal_size {size}: keep at least 1 request")
            with self._lock:
                self.entries = deque(self.entries, maxlen=size)

    def done(self) -> None:
        path = ctx.options.tapeproxy_report
        if path:
            Path(path).write_text(report_json(self) if path.endswith(".json") else report_markdown(self))

    def _note(self, flow: http.HTTPFlow, status: int | None, source: str, label: str) -> None:
        req = flow.request
        state = state_of(flow)
        original = state.original_url  # sent upstream, perhaps to a mapped server
        host = (urlsplit(original).hostname or "") if original else req.host.lower()
        if host == CONTROL_HOST or not (self.intercept.intercepts(host) or source == "blocked"):
            return
        end = flow.response.timestamp_end if flow.response else None
        duration = round((end - req.timestamp_start) * 1000) if end and req.timestamp_start else None
        url = original or req.url  # the URL matched and recorded (pretty_url re-parses the Host header)
        if state.batch_step:
            label = f"{label} [$batch step {state.batch_step}]"
        resp = flow.response
        secret = is_token_exchange(url)  # credentials both ways: no body kept
        miss = state.miss if source == "miss" else None
        with self._lock:
            self.total += 1
            call = Call(
                self.total,
                req.method,
                self._scrub(url),
                status,
                source,
                label,
                duration,
                req.timestamp_start or time.time(),
                req.headers.fields,
                b"" if secret else (req.raw_content or b"")[:BODY_CAP],
                len(req.raw_content or b""),
                resp.headers.fields if resp else (),
                b"" if secret or not resp else (resp.raw_content or b"")[:BODY_CAP],
                len(resp.raw_content or b"") if resp else 0,
                miss.closest.label if miss and miss.closest else "",
                tuple(miss.differences) if miss else (),
            )
            self.entries.append(call)
            self.counts[(source, host)] += 1
            if source == "miss" and len(self.misses) < MAX_LISTED:
                self.misses.append(call)
            if state.early_retry is not None and len(self.early) < MAX_LISTED:
                self.early.append((call, state.early_retry))
        if self.live_lines:
            self.write_line(self._line(call))
        if state.guidance:
            said = (req.method, operation(req.path.partition("?")[0]))
            for finding in state.guidance:
                self.add_guidance(finding, (finding.rule, *said))

    def add_guidance(self, finding: Finding, once: tuple = ()) -> None:
        """A guidance finding (core/guidance.py): counted; a line the first time its rule fires on
        an operation (method and path, keys aside), so an app's every call does not repeat it."""
        rule = finding.rule
        with self._lock:
            self.guidance[rule] += 1
            if once in self._guidance_said:
                return
            if once:
                if len(self._guidance_said) >= MAX_ENTRIES:
                    self._guidance_said.clear()
                self._guidance_said.add(once)
        if self.live_lines:  # the line is made only when said
            line = finding.line
            self.write_line(json.dumps({"event": "guidance", "rule": rule, "line": line}) if self.as_json else line)

    def _line(self, c: Call) -> str:
        if self.as_json:
            return json.dumps({"event": "request", **c.as_json(), "miss_reason": c.reason or None})
        status = "---" if c.status is None else str(c.status)
        took = f" {c.duration_ms}ms" if c.duration_ms is not None else ""
        text = f"{c.method} {c.url} -> {status} {c.label}{took}"
        colour = _COLOURS.get(c.source)
        return f"\x1b[{colour}m{text}\x1b[0m" if colour and self.colour else text

    def on_response(self, flow: http.HTTPFlow) -> None:
        status = flow.response.status_code if flow.response else None
        by = served(flow)
        if by:
            self._note(flow, status, by.source, by.label)
        else:
            source = "upstream" if state_of(flow).original_url else "passthrough"
            self._note(flow, status, source, source)

    def on_error(self, flow: http.HTTPFlow) -> None:
        by = served(flow)
        self._note(flow, None, "killed" if by else "error", by.label if by else str(flow.error))

    def since(self, seq: int) -> list[Call]:
        with self._lock:
            return [c for c in self.entries if c.seq > seq]

    def find(self, wanted: Filter) -> list[Call]:
        with self._lock:
            kept = list(self.entries)
        return [c for c in kept if wanted.matches(c)]

    def get(self, seq: int) -> Call | None:
        with self._lock:
            first = self.entries[0].seq if self.entries else 0
            # ids are consecutive within the deque, unless cleared in between: look up, then check
            at = seq - first
            if 0 <= at < len(self.entries) and self.entries[at].seq == seq:
                return self.entries[at]
            return next((c for c in self.entries if c.seq == seq), None)

    def clear(self) -> int:
        """Forget the requests kept (the exit summary's counts stay); how many were forgotten."""
        with self._lock:
            n = len(self.entries)
            self.entries.clear()
            return n

    def summary_table(self) -> list[str]:
        """The table the CLI prints at exit."""
        return summary_table(self)


def summary(j: Journal) -> dict:
    by_source: Counter = Counter()
    by_host: Counter = Counter()
    for (source, host), n in j.counts.items():
        by_source[source] += n
        by_host[host] += n
    return {
        "requests": j.total,
        "by_source": dict(by_source.most_common()),
        "by_host": dict(by_host.most_common()),
        "by_source_and_host": [{"source": s, "host": h, "requests": n} for (s, h), n in j.counts.most_common()],
        "misses": [{"method": c.method, "url": c.url, "why": c.label.removeprefix("MISS: ")} for c in j.misses],
        "early_retries": [{"method": c.method, "url": c.url, "too_early_by_s": round(e, 3)} for c, e in j.early],
        **({"graph_permissions": j.permissions.report()} if j.permissions and j.permissions.calls else {}),
        "guidance": {
            rule: {"findings": n, "advice": RULES[rule].advice, "link": RULES[rule].link}
            for rule, n in j.guidance.most_common()
        },
    }


def report_json(j: Journal) -> str:
    return json.dumps(summary(j), indent=2) + "\n"


def report_markdown(j: Journal) -> str:
    s = summary(j)
    lines = [
        "# tapeproxy summary",
        "",
        f"{s['requests']} request(s).",
        "",
        "| source | host | requests |",
        "|---|---|---|",
    ]
    lines += [f"| {r['source']} | {r['host']} | {r['requests']} |" for r in s["by_source_and_host"]]
    if s["misses"]:
        lines += ["", "## Misses", ""] + [f"- `{m['method']} {m['url']}`: {m['why']}" for m in s["misses"]]
    if s["early_retries"]:
        lines += ["", "## Retries before Retry-After", ""] + [
            f"- `{e['method']} {e['url']}`: {e['too_early_by_s']}s too early" for e in s["early_retries"]
        ]
    if s["guidance"]:
        lines += ["", "## Guidance", "", "| rule | findings | what to do |", "|---|---|---|"]
        lines += [f"| {r} | {g['findings']} | {g['advice']} ([docs]({g['link']})) |" for r, g in s["guidance"].items()]
    if "graph_permissions" in s:
        lines += ["", *permission_report.markdown(s["graph_permissions"])]
    return "\n".join(lines) + "\n"


def summary_table(j: Journal) -> list[str]:
    """The table the CLI prints at exit."""
    if not j.total:
        return []
    rows = [(s, h, str(n)) for (s, h), n in j.counts.most_common()]
    widths = [max(len(r[i]) for r in [("source", "host", "requests"), *rows]) for i in range(3)]
    fmt = f"  {{:<{widths[0]}}}  {{:<{widths[1]}}}  {{:>{widths[2]}}}"
    out = [fmt.format("source", "host", "requests"), *(fmt.format(*r) for r in rows)]
    for c in j.misses[:10]:
        out.append(f"  MISS {c.method} {c.url}: {c.label.removeprefix('MISS: ')}")
    for c, early in j.early[:10]:
        out.append(f"  EARLY RETRY {c.method} {c.url}: {early:.2f}s before its Retry-After")
    for rule, n in j.guidance.most_common():
        out.append(f"  GUIDANCE {rule}: {n} finding(s); {RULES[rule].advice} ({RULES[rule].link})")
    if j.permissions and j.permissions.calls:
        out += [f"  {line}" for line in permission_report.summary_lines(j.permissions.report())]
    return out
