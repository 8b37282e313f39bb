"""Replay: answer intercepted requests from vcrpy cassettes, through the replay index."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence  # mitmproxy parses --set only for this spelling

from mitmproxy import ctx, exceptions, http

from . import responses
from .core import cassette, matching, yamlfile
from .core.errors import InputError
from .core.index import Hit, ReplayIndex
from .core.matching import Shape
from .core.served import served_headers
from .hosts import Intercept

logger = logging.getLogger(__name__)

MISS_KEY = "tapeproxy.miss"  # flow.metadata key: why replay found nothing, for the miss addon


# One Shape per flow, shared by the scenarios and replay; weak, so it goes with its flow and
# stays out of flow.metadata, which mitmweb serialises.
_shapes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def shape_of(flow: http.HTTPFlow) -> Shape:
    """The flow's request, normalised for matching (once per flow: hooks do not change requests)."""
    shape = _shapes.get(flow)
    if shape is None:
        request = flow.request
        path, _, query = request.path.partition("?")
        body = request.get_content(strict=False) or b""
        shape = _shapes[flow] = Shape(request.method, request.scheme, request.host, request.port, path, query,
                                      tuple(request.headers.items(multi=True)), body)
    return shape


def load_cassettes(paths: Sequence[str]) -> list[cassette.Interaction]:
    out: list[cassette.Interaction] = []
    for path in paths:
        out.extend(cassette.load(path))
    return out


class Replay:
    name = "tapeproxy_replay"

    def __init__(self, intercept: Intercept) -> None:
        self.intercept = intercept
        self.index = ReplayIndex([])
        self._fields: dict[tuple[int, bool], tuple] = {}  # (id(interaction), HEAD?) -> headers to serve

    def load(self, loader):
        loader.add_option("tapeproxy_cassettes", Sequence[str], [], "Cassette files (vcrpy YAML) to replay.")
        loader.add_option("tapeproxy_match_on", Sequence[str], list(matching.DEFAULT_MATCH_ON),
                          "vcrpy matchers a request must agree on: " + ", ".join(matching.MATCHERS) + ".")
        loader.add_option("tapeproxy_match_headers", Sequence[str], [],
                          "Request headers that must match when a recording holds them, besides each API's own "
                          "(Box boxapi, As-User, If-Match, If-None-Match; Graph ConsistencyLevel, Prefer, If-Match).")
        loader.add_option("tapeproxy_repeat_last", bool, True,
                          "After the last recording of a repeated request, serve it again (else: a miss).")

    def configure(self, updated):
        if not updated & {"tapeproxy_cassettes", "tapeproxy_match_on", "tapeproxy_match_headers",
                          "tapeproxy_repeat_last"}:
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
        self.intercept.recorded_hosts(index.hosts)
        if ctx.options.tapeproxy_cassettes:
            logger.info(f"tapeproxy: replaying {len(index)} interactions from "
                        f"{len(ctx.options.tapeproxy_cassettes)} cassette(s), matching on {', '.join(index.match_on)}; "
                        f"intercepting {self.intercept.described()}")

    def request(self, flow: http.HTTPFlow) -> None:
        if (responses.handled(flow) or ctx.options.tapeproxy_record_mode == "all"  # "all" never replays
                or not self.intercept.intercepts(flow.request.host)):
            return
        try:
            result = self.index.lookup(shape_of(flow))
            if isinstance(result, Hit):
                self._serve(flow, result)
            else:
                flow.metadata[MISS_KEY] = result
        except Exception as e:  # never let a failure here send the flow upstream
            responses.internal_error(flow, "replay", e)

    def _serve(self, flow: http.HTTPFlow, hit: Hit) -> None:
        recorded = hit.interaction.response
        method = flow.request.method
        key = (id(hit.interaction), method == "HEAD")  # the index keeps the interaction, so its id
        fields = self._fields.get(key)
        if fields is None:
            as_received = hit.interaction.extra.get("body_as_received") is True
            fields = self._fields[key] = responses.header_fields(served_headers(recorded, method, as_received))
        flow.response = responses.make_raw(recorded.status, fields, recorded.body, recorded.reason)
        repeat = " again" if hit.repeated else ""
        responses.served_by(flow, "cassette", f"cassette {hit.interaction.label} ({hit.nth} of {hit.of}{repeat})")
