"""Replay: answer intercepted requests from vcrpy cassettes, through the replay index."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Sequence  # mitmproxy parses --set only for this spelling

from mitmproxy import ctx, exceptions, http

from .core import cassette, digestfiles, matching, ranges, yamlfile
from .core.errors import InputError
from .core.index import Hit, ReplayIndex
from .core.served import served_headers
from .hosts import Intercept
from .runtime import responses
from .runtime.fileserver import FileServer
from .runtime.flowstate import BodyStream, request_headers, shape_of, state_of
from .runtime.mode import Mode

logger = logging.getLogger(__name__)


def load_cassettes(paths: Sequence[str]) -> list[cassette.Interaction]:
    out: list[cassette.Interaction] = []
    for path in paths:
        out.extend(cassette.load(path))
    return out


class Replay:
    name = "tapeproxy_replay"
    where = "replay"

    def __init__(self, intercept: Intercept, mode: Mode) -> None:
        self.intercept = intercept
        self.mode = mode
        self.index = ReplayIndex([])
        self._fields: dict[tuple[int, bool], tuple] = {}  # (id(interaction), HEAD?) -> headers to serve
        self.files = FileServer()  # streams body files to the clients
        self._verified: set[tuple] = set()  # body files whose content was checked (by file identity)

    def load(self, loader):
        loader.add_option("tapeproxy_cassettes", Sequence[str], [], "Cassette files (vcrpy YAML) to replay.")
        loader.add_option(
            "tapeproxy_match_on",
            Sequence[str],
            list(matching.DEFAULT_MATCH_ON),
            "vcrpy matchers a request must agree on: " + ", ".join(matching.MATCHERS) + ".",
        )
        loader.add_option(
            "tapeproxy_match_headers",
            Sequence[str],
            [],
            "Request headers that must match when a recording holds them, besides each API's own "
            "(Box boxapi, As-User, If-Match, If-None-Match; Graph ConsistencyLevel, Prefer, If-Match).",
        )
        loader.add_option(
            "tapeproxy_repeat_last",
            bool,
            True,
            "After the last recording of a repeated request, serve it again (else: a miss).",
        )

    def configure(self, updated):
        if not updated & {
            "tapeproxy_cassettes",
            "tapeproxy_match_on",
            "tapeproxy_match_headers",
            "tapeproxy_repeat_last",
        }:
            return
        try:
            self.use(self.build())
        except InputError as e:
            raise exceptions.OptionsError(str(e)) from None

    @staticmethod
    def build() -> ReplayIndex:
        """A new index of the cassettes the options name. Raises InputError (file:line)."""
        match_on = matching.parse_match_on(ctx.options.tapeproxy_match_on)
        match_headers = matching.parse_match_headers(ctx.options.tapeproxy_match_headers)
        with yamlfile.gc_paused():
            interactions = load_cassettes(ctx.options.tapeproxy_cassettes)
            return ReplayIndex(interactions, match_on, ctx.options.tapeproxy_repeat_last, match_headers)

    def use(self, index: ReplayIndex) -> None:
        """Serve from this index from now on (its sequences start from their first recording)."""
        self.index = index
        self._fields = {}
        self.mode.largest_recorded_request = max((len(i.request.body) for i in index.interactions), default=0)
        self.intercept.recorded_hosts(index.hosts)
        if ctx.options.tapeproxy_cassettes:
            files = [os.path.basename(p) for p in ctx.options.tapeproxy_cassettes]
            shown = ", ".join(files[:10]) + (f" and {len(files) - 10} more" if len(files) > 10 else "")
            logger.info(
                f"tapeproxy: replaying {len(index)} interactions from {len(files)} cassette(s) ({shown}), "
                f"matching on {', '.join(index.match_on)}; intercepting {self.intercept.described()}"
            )

    def reset(self) -> None:
        """Every sequence starts again from its first recording."""
        self.index.reset()

    def answer(self, flow: http.HTTPFlow) -> Awaitable[None] | None:
        if self.mode.replays:
            result = self.index.lookup(shape_of(flow))
            if not isinstance(result, Hit):
                state_of(flow).miss = result
            elif result.interaction.response.body_file:
                return self._serve_file(flow, result)
            else:
                self._serve(flow, result, result.interaction.response)
        return None

    async def _serve_file(self, flow: http.HTTPFlow, hit: Hit) -> None:
        """A body kept beside the cassette, streamed from its file: never held whole, a Range read
        from the file, and served only if the file still holds what it is named for (checked off
        the event loop, once per file; lint checks them all; start-up only that each is there)."""
        recorded = hit.interaction.response
        named = recorded.body_file
        assert named is not None
        method = flow.request.method
        headers = list(served_headers(recorded, method, hit.interaction.extra.get("body_as_received") is True))
        status, span = recorded.status, (0, named.size - 1) if named.size else None
        planned = ranges.plan(method, flow.request.headers.items(), status, headers, named.size)
        if planned is not None:
            status, headers, span = planned
        if method == "HEAD" or status in (204, 304) or status < 200 or span is None:
            flow.response = responses.make(status, headers, b"", recorded.reason if status == recorded.status else "")
            self._served_by(flow, hit)
            return
        try:
            fd = await asyncio.to_thread(named.open, self._verified)
        except digestfiles.Unusable as e:
            message = f"cassette {hit.interaction.label}: its response body cannot be served: {e}"
            logger.error(responses.scrubbed(flow, f"tapeproxy: {message} (tapeproxy lint checks every body file)"))
            flow.response = responses.api_error(
                flow, 500, "tapeproxyBodyFileUnusable", message, [(responses.ERROR_HEADER, "replay")]
            )
            responses.served_by(flow, "error", f"cassette {hit.interaction.label}: body file unusable")
            return
        self.mode.file_server = await self.files.start()
        req = flow.request
        state_of(flow).body_stream = BodyStream(
            status,
            recorded.reason if status == recorded.status else "",
            responses.header_fields(headers),
            req.scheme,
            req.host,
            req.port,
            req.path,
        )
        first, last = span
        path = self.files.offer(fd, first, last - first + 1)
        host_header = req.host_header
        req.scheme, req.host, req.port, req.path = "http", *self.mode.file_server, path
        req.host_header = host_header
        self._served_by(flow, hit)

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """A body file's bytes are on their way: the client gets them streamed, with the recorded
        status and headers, and the flow names the request as the client sent it."""
        stream = state_of(flow).body_stream
        if stream is None or flow.response is None:
            return
        if flow.response.status_code != 200:  # the file server lost it (expired): say so, never other bytes
            flow.response = responses.api_error(
                flow, 500, "tapeproxyBodyFileUnusable", "tapeproxy: the body file could not be streamed"
            )
        else:
            flow.response.status_code, flow.response.reason = stream.status, stream.reason or ""
            flow.response.headers = http.Headers(stream.headers)
            flow.response.stream = True
        req = flow.request
        host_header = req.host_header
        req.scheme, req.host, req.port, req.path = stream.scheme, stream.host, stream.port, stream.path
        req.host_header = host_header

    def done(self) -> None:
        self.files.close()

    def _serve(self, flow: http.HTTPFlow, hit: Hit, recorded: cassette.RecordedResponse) -> None:
        method = flow.request.method
        key = (id(hit.interaction), method == "HEAD")  # the index keeps the interaction, so its id
        fields = self._fields.get(key)
        if fields is None:
            as_received = hit.interaction.extra.get("body_as_received") is True
            fields = self._fields[key] = responses.header_fields(served_headers(recorded, method, as_received))
        flow.response = responses.make_raw(recorded.status, fields, recorded.body, recorded.reason)
        sent = request_headers(flow)
        if "range" in sent or "if-none-match" in sent:
            as_received = hit.interaction.extra.get("body_as_received") is True
            headers = served_headers(recorded, method, as_received)
            narrowed = ranges.narrow(method, flow.request.headers.items(), recorded.status, headers, recorded.body)
            if narrowed is not None:
                flow.response = responses.make(*narrowed)
        self._served_by(flow, hit)

    @staticmethod
    def _served_by(flow: http.HTTPFlow, hit: Hit) -> None:
        repeat = " again" if hit.repeated else ""
        responses.served_by(flow, "cassette", f"cassette {hit.interaction.label} ({hit.nth} of {hit.of}{repeat})")
