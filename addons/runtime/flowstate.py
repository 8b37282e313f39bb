"""What tapeproxy's addons know about a flow, typed, in one place.

mitmproxy's flow.metadata is a dict of string keys that mitmweb shows and `mitmdump -w` saves. The
state the addons hand each other (the request's shape, why replay missed, where the request was
first addressed...) lives in a FlowState instead, in a weak map that goes with its flow. One
metadata key stays: "tapeproxy", what served a flow, written only by `mark` and read only by
`served`; it is saved with the flow, so mitmweb shows it and `tapeproxy import` skips what
tapeproxy answered itself.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

from mitmproxy import http

from ..core.digestfiles import Spool
from ..core.guidance import Finding
from ..core.index import NoMatch
from ..core.matching import Shape
from ..core.recording import Exchange

SERVED_KEY = "tapeproxy"  # the one flow.metadata key: {"source": ..., "label": ...}


@dataclass(slots=True, frozen=True)
class Served:
    source: str  # cassette, scenario, simulation, signin, batch, control, miss, error
    label: str  # what served it, e.g. "cassette box-tasks.yaml #3 (1 of 1)"


@dataclass(slots=True)
class FlowState:
    shape: Shape | None = None  # the request normalised for matching; see shape_of
    miss: NoMatch | None = None  # why no cassette matched, for the miss answer
    original_url: str | None = None  # sent upstream: the URL the client asked for, before any mapping
    early_retry: float | None = None  # seconds before its Retry-After the client came back
    guidance: tuple[Finding, ...] = ()  # the guidance findings on it
    truncate: bool = False  # a scenario fault: cut the answer short
    batch_step: str = ""  # a Graph $batch step: its id
    spools: dict[str, Spool] | None = None  # "request"/"response" bodies streamed into body files
    body_stream: BodyStream | None = None  # a recorded body streamed from its body file (replay.py)
    headers: dict[str, str] | None = None  # the request's, by lower-case name; see request_headers


@dataclass(slots=True, frozen=True)
class BodyStream:
    """A response replay sends from a body file: mitmproxy fetches the bytes from the file server
    (runtime/fileserver.py); these are the status and headers the client gets with them, and the
    request's own address, put back once the bytes are on their way."""

    status: int
    reason: str
    headers: tuple[tuple[bytes, bytes], ...]
    scheme: str
    host: str
    port: int
    path: str


_states: weakref.WeakKeyDictionary[http.HTTPFlow, FlowState] = weakref.WeakKeyDictionary()


def state_of(flow: http.HTTPFlow) -> FlowState:
    state = _states.get(flow)
    if state is None:
        state = _states[flow] = FlowState()
    return state


def streams_body_file(flow: http.HTTPFlow) -> bool:
    """Whether replay sent the flow to a body file's bytes; asking makes no FlowState (a hot path)."""
    state = _states.get(flow)
    return state is not None and state.body_stream is not None


def request_headers(flow: http.HTTPFlow) -> dict[str, str]:
    """The request's headers by lower-case name, repeats joined with ", " (once per flow, in one pass:
    each lookup in mitmproxy's Headers scans and decodes them all, and several addons ask)."""
    state = state_of(flow)
    if state.headers is None:
        out: dict[str, str] = {}
        for k, v in flow.request.headers.fields:
            name, value = k.decode("latin-1").lower(), v.decode("utf-8", "surrogateescape")
            out[name] = f"{out[name]}, {value}" if name in out else value
        state.headers = out
    return state.headers


def message_header(message: http.Message, name: bytes) -> str:
    """A message's first header of that (lower-case) name, "" when absent; one pass, no decoding of the rest."""
    for k, v in message.headers.fields:
        if k.lower() == name:
            return v.decode("utf-8", "surrogateescape")
    return ""


def decoded_body(message: http.Message) -> bytes:
    """The body with its Content-Encoding undone (as sent when it has none, or one that cannot be undone)."""
    raw = message.raw_content or b""
    if not raw or not message_header(message, b"content-encoding"):
        return raw
    return message.get_content(strict=False) or b""


def shape_of(flow: http.HTTPFlow) -> Shape:
    """The flow's request, normalised for matching (once per flow: hooks do not change requests)."""
    state = state_of(flow)
    if state.shape is None:
        request = flow.request
        path, _, query = request.path.partition("?")
        body = decoded_body(request)
        state.shape = Shape(
            request.method,
            request.scheme,
            request.host,
            request.port,
            path,
            query,
            tuple(request.headers.items(multi=True)),
            body,
        )
    return state.shape


def mark(flow: http.HTTPFlow, source: str, label: str) -> None:
    """Record what served (or cut off) a flow: the recorder skips it, the journal reports it."""
    flow.metadata[SERVED_KEY] = {"source": source, "label": label}


def served(flow: http.HTTPFlow) -> Served | None:
    """What served (or cut off) a flow: its mark, also for a flow read from a file."""
    saved = flow.metadata.get(SERVED_KEY)
    return Served(str(saved.get("source", "")), str(saved.get("label", ""))) if isinstance(saved, dict) else None


def exchange_of(flow: http.HTTPFlow, url: str) -> Exchange:
    """A completed flow as the recorder sees it; url is the one the client asked for."""
    req, resp = flow.request, flow.response
    assert resp is not None  # completed
    duration = None
    if resp.timestamp_end and req.timestamp_start:
        duration = round((resp.timestamp_end - req.timestamp_start) * 1000)
    return Exchange(
        req.method,
        url,
        list(req.headers.items(multi=True)),
        req.get_content(strict=False) or b"",
        resp.status_code,
        resp.reason,
        list(resp.headers.items(multi=True)),
        resp.raw_content or b"",
        req.timestamp_start,
        duration,
        as_received=True,
    )
