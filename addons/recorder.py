"""Record: pass live traffic for intercepted hosts upstream and append it, redacted, to a cassette.

Record modes are vcrpy's: none (replay only), once (record only if the cassette does not exist
yet), new_episodes (replay what exists, record what is missing), all (record everything, replacing
recordings of the same requests). Interactions reach disk within a second, atomically.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Sequence  # mitmproxy parses --set only for this spelling
from pathlib import Path

from mitmproxy import ctx, exceptions, http

from .core import matching, redact, writer, yamlfile
from .core.errors import InputError
from .core.index import shape_of
from .core import cassette
from .hosts import Intercept

logger = logging.getLogger(__name__)

ORIGINAL_URL = "tapeproxy.original_url"  # flow.metadata: the URL as the client asked, before mapping
FLUSH_EVERY = 0.5  # seconds: every completed interaction is on disk within a second


def _header_dict(items) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name, []).append(value)
    return out


def parse_upstreams(specs: Sequence[str]) -> dict[str, tuple[str, str, int]]:
    """"HOST=URL" specs as {host: (scheme, host, port)}."""
    from urllib.parse import urlsplit

    out = {}
    for spec in specs:
        host, eq, url = spec.partition("=")
        parts = urlsplit(url)
        if not eq or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"--upstream {spec!r}: expected HOST=URL, e.g. graph.microsoft.com=https://127.0.0.1:9443")
        out[host.lower()] = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return out


class Recorder:
    name = "tapeproxy_recorder"

    def __init__(self, intercept: Intercept) -> None:
        self.intercept = intercept
        self.redactor = redact.Redactor()
        self.entries: list[dict] = []  # what the cassette file holds, in order
        self.old_keys: list[tuple | None] = []  # match keys of entries loaded at start (for "all")
        self.recorded = 0
        self.live = False  # whether requests nothing answered go upstream
        self.upstreams: dict[str, tuple[str, str, int]] = {}
        self.match_on: tuple[str, ...] = matching.DEFAULT_MATCH_ON
        self._dirty = False
        self._flusher: asyncio.Task | None = None

    def load(self, loader):
        loader.add_option("tapeproxy_record_mode", str, "none",
                          "vcrpy record mode: none (replay only, offline), once, new_episodes, all.",
                          choices=["none", "once", "new_episodes", "all"])
        loader.add_option("tapeproxy_record_to", str, "", "Cassette file that recorded interactions go to.")
        loader.add_option("tapeproxy_upstreams", Sequence[str], [],
                          "HOST=URL: send an intercepted host's traffic to another server (staging, local).")
        loader.add_option("tapeproxy_redact_headers", Sequence[str], [], "More request/response headers to redact.")
        loader.add_option("tapeproxy_redact_query", Sequence[str], [], "More query parameters to redact.")
        loader.add_option("tapeproxy_redact_json", Sequence[str], [],
                          "JSON paths to redact in bodies, e.g. user.password or items.*.token.")

    def configure(self, updated):
        keys = {"tapeproxy_record_mode", "tapeproxy_record_to", "tapeproxy_upstreams", "tapeproxy_redact_headers",
                "tapeproxy_redact_query", "tapeproxy_redact_json", "tapeproxy_match_on"}
        if not updated & keys:
            return
        opts = ctx.options
        try:
            self.upstreams = parse_upstreams(opts.tapeproxy_upstreams)
        except InputError as e:
            raise exceptions.OptionsError(str(e)) from None
        self.redactor = redact.Redactor(opts.tapeproxy_redact_headers, opts.tapeproxy_redact_query,
                                        opts.tapeproxy_redact_json)
        mode, target = opts.tapeproxy_record_mode, opts.tapeproxy_record_to
        if mode != "none" and not target:
            raise exceptions.OptionsError("tapeproxy_record_mode needs tapeproxy_record_to (the cassette to write)")
        exists = bool(target) and Path(target).is_file()
        self.live = mode in ("new_episodes", "all") or (mode == "once" and not exists)
        self.entries, self.old_keys = [], []
        if exists and self.live:
            try:
                data, _ = yamlfile.load(target)
                self.entries = list((data or {}).get("interactions") or [])
                self.match_on = matching.parse_match_on(opts.tapeproxy_match_on)
                self.old_keys = [matching.key(shape_of(i), self.match_on) for i in cassette.load(target)]
            except InputError as e:
                raise exceptions.OptionsError(str(e)) from None

    def running(self):
        if self.live:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())
            logger.info(f"tapeproxy: recording ({ctx.options.tapeproxy_record_mode}) to {ctx.options.tapeproxy_record_to}")

    def request(self, flow: http.HTTPFlow) -> None:
        """Runs last: a flow nothing answered goes upstream, to the mapped server if there is one."""
        if flow.response or not self.live or not self.intercept.intercepts(flow.request.host):
            return
        flow.metadata[ORIGINAL_URL] = flow.request.url
        target = self.upstreams.get(flow.request.host.lower())
        if target:
            host_header = flow.request.host_header
            flow.request.scheme, flow.request.host, flow.request.port = target
            flow.request.host_header = host_header  # the server still sees the API's Host

    def response(self, flow: http.HTTPFlow) -> None:
        if ORIGINAL_URL not in flow.metadata or "tapeproxy" in flow.metadata:
            return  # not ours, or synthetic (served by tapeproxy itself)
        try:
            self._append(flow)
        except Exception:  # a broken recording must not break the client's response
            logger.exception(f"tapeproxy: could not record {flow.request.method} {flow.metadata[ORIGINAL_URL]}")

    def _append(self, flow: http.HTTPFlow) -> None:
        before = self.redactor.count
        entry = self.to_interaction(flow)
        if ctx.options.tapeproxy_record_mode == "all" and self.old_keys:
            # vcrpy's "all": a new recording replaces the old recordings of the same request.
            key = matching.key(shape_of(cassette_interaction(entry)), self.match_on)
            keep = [i for i, k in enumerate(self.old_keys) if k != key]
            self.entries = [self.entries[i] for i in keep] + self.entries[len(self.old_keys):]
            self.old_keys = [self.old_keys[i] for i in keep]
        self.entries.append(entry)
        self.recorded += 1
        self._dirty = True
        redacted = self.redactor.count - before
        logger.info(f"tapeproxy recorded #{self.recorded} {flow.request.method} {entry['request']['uri']} -> "
                    f"{flow.response.status_code}" + (f" ({redacted} value(s) redacted)" if redacted else ""))

    def to_interaction(self, flow: http.HTTPFlow) -> dict:
        req, resp = flow.request, flow.response
        r = self.redactor
        url = r.url(flow.metadata[ORIGINAL_URL])
        req_body = r.body(url, req.headers.get("content-type", ""), req.get_content(strict=False) or b"")
        body = resp.get_content(strict=False) or b""
        headers = list(resp.headers.items(multi=True))
        encoding = resp.headers.get("content-encoding", "")
        if encoding and (body != resp.raw_content or encoding.lower() == "identity"):
            # stored decoded and readable: the header must say so
            headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
        body = r.body(url, resp.headers.get("content-type", ""), body)
        return {
            "request": {"body": writer.text_or_binary(req_body) or None,
                        "headers": _header_dict(r.headers(req.headers.items(multi=True))),
                        "method": req.method, "uri": url},
            "response": {"status": {"code": resp.status_code, "message": resp.reason},
                         "headers": _header_dict(r.headers(headers)),
                         "body": {"string": writer.text_or_binary(body)}},
            "tapeproxy": {"recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                          "duration_ms": round(((resp.timestamp_end or 0) - (req.timestamp_start or 0)) * 1000)},
        }

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            if self._dirty:
                self._dirty = False
                snapshot = list(self.entries)
                await asyncio.to_thread(writer.write_atomic, ctx.options.tapeproxy_record_to, snapshot)

    def done(self) -> None:
        if self._flusher:
            self._flusher.cancel()
        if self.live and (self._dirty or self.recorded):
            writer.write_atomic(ctx.options.tapeproxy_record_to, self.entries)
            self._dirty = False


def cassette_interaction(entry: dict) -> cassette.Interaction:
    """A freshly recorded entry in the model replay uses (for match keys)."""
    req = entry["request"]
    body = req["body"] or b""
    return cassette.Interaction(cassette.RecordedRequest(req["method"], req["uri"], tuple(
        (k, v) for k, vs in req["headers"].items() for v in vs), body.encode() if isinstance(body, str) else body),
        cassette.RecordedResponse(0, "", (), b""), "", 0)
