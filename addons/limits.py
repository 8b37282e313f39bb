"""Limits: what one client may cost the proxy, each over-limit answered the way the API would.

- A request body over its endpoint class's limit (core/limits.py) is answered 413 in the API's error
  envelope as soon as its size is known (Content-Length, or the bytes buffered so far when chunked),
  and the rest is read and dropped, never buffered. While recording, such a body is streamed upstream
  instead, and so is a response body over the limit; with --body-files, one that needs no redaction
  is written to a body file as it passes (and recorded), any other is not recorded, and the log says
  so. On replay, a request body as big as one the cassettes hold gets in.
- Request headers over tapeproxy_max_header get 431 (mitmproxy 11 reads an HTTP/1 head of any size).
- An HTTP/2 client that resets more than MAX_CLIENT_RESETS streams in RESET_WINDOW seconds (rapid
  reset) gets GOAWAY ENHANCE_YOUR_CALM and its connection is closed.
- A client connection with no traffic for tapeproxy_idle_timeout is closed. At
  tapeproxy_max_connections, the connection idle longest makes room for a new one; a new client is
  refused only when none is idle. The soft open-files limit is raised to the hard one at start.

mitmproxy decides about a body before any addon hook runs (its body_size_limit check), so the body
and header limits wrap two of its functions, and the reset limit a third (mitmproxy 11.0); should a
release rename one, importing this module fails rather than a limit silently going away.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time

import h2.errors
import h2.events
from mitmproxy import ctx, http
from mitmproxy.connection import Client
from mitmproxy.net.http.http1 import expected_http_body_size
from mitmproxy.proxy import commands
from mitmproxy.proxy.layers import http as http_layer
from mitmproxy.proxy.layers.http import _http1, _http2

from .core import limits
from .core.digestfiles import Spool
from .core.errors import InputError
from .core.profiles import named_error, profile_for
from .core.redact import Redactor
from .runtime import responses
from .runtime.flowstate import state_of, streams_body_file
from .runtime.mode import Mode

logger = logging.getLogger(__name__)

# The live Limits addon of each running master, by id(options): mitmproxy's layers see only options.
_ACTIVE: dict[int, Limits] = {}
EVICT_AFTER = 1.0  # a connection idle this long may be closed to make room for a new one


class Limits:
    name = "tapeproxy_limits"

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.max_body = self.max_upload_body = self.max_header = 0
        self.idle_timeout = limits.DEFAULT_IDLE_TIMEOUT
        self.max_connections = limits.DEFAULT_MAX_CONNECTIONS
        self.refused = 0  # answers 413 / 431, and clients refused at the connection cap
        self.streamed = 0  # flows streamed while recording, hence not recorded
        self._sweeper: asyncio.Task | None = None
        self._last_refusal_log = 0.0
        self._closing: set[str] = set()  # client ids closed to make room, not yet gone

    def load(self, loader):
        loader.add_option(
            "tapeproxy_max_body",
            str,
            limits.DEFAULT_MAX_BODY,
            "Largest request body of an API call (JSON); larger ones get 413 in the API's envelope.",
        )
        loader.add_option(
            "tapeproxy_max_upload_body",
            str,
            limits.DEFAULT_MAX_UPLOAD_BODY,
            "Largest request body of an upload (Box upload host, Graph .../content, upload sessions).",
        )
        loader.add_option(
            "tapeproxy_max_header",
            str,
            limits.DEFAULT_MAX_HEADER,
            "Largest HTTP/1 request line and headers; larger get 431.",
        )
        loader.add_option(
            "tapeproxy_idle_timeout",
            int,
            limits.DEFAULT_IDLE_TIMEOUT,
            "Close a client connection with no traffic for this many seconds.",
        )
        loader.add_option(
            "tapeproxy_max_connections",
            int,
            limits.DEFAULT_MAX_CONNECTIONS,
            "Most client connections open at once (lowered to fit the open-files limit).",
        )

    def configure(self, updated):
        opts = ctx.options
        try:
            self.max_body = limits.parse_size(opts.tapeproxy_max_body, "--max-body")
            self.max_upload_body = limits.parse_size(opts.tapeproxy_max_upload_body, "--max-upload-body")
            self.max_header = limits.parse_size(opts.tapeproxy_max_header, "--max-header")
        except InputError as e:
            from mitmproxy import exceptions

            raise exceptions.OptionsError(str(e)) from None
        self.idle_timeout = max(1, opts.tapeproxy_idle_timeout)
        self.max_connections = limits.connection_cap(opts.tapeproxy_max_connections, _raise_open_files())
        install()
        _ACTIVE[id(opts)] = self

    def running(self):
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    def done(self):
        _ACTIVE.pop(id(ctx.options), None)
        if self._sweeper:
            self._sweeper.cancel()

    # connections

    def client_connected(self, client: Client) -> None:
        handlers = _handlers()
        if len(handlers) - len(self._closing) <= self.max_connections:
            return
        now = time.time()
        idle = [
            (h.timeout_watchdog.last_activity, cid, h)
            for cid, h in handlers.items()
            if cid != client.id and cid not in self._closing and _idle_for(h, now) >= EVICT_AFTER
        ]
        if idle:
            _, cid, handler = min(idle, key=lambda item: item[0])
            self._closing.add(cid)  # it closes on a later turn of the loop: never pick it twice
            _close(handler, "to make room for a new connection")
            return
        self.refused += 1
        client.error = (
            f"tapeproxy: {self.max_connections} client connections are open and busy "
            f"(--max-connections); refused a new one"
        )
        if now - self._last_refusal_log > 10:  # a flood of refusals is one line per 10 s
            self._last_refusal_log = now
            logger.warning(client.error)

    def client_disconnected(self, client: Client) -> None:
        self._closing.discard(client.id)

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(min(self.idle_timeout / 2, 5.0))
            now = time.time()
            for handler in list(_handlers().values()):
                if _idle_for(handler, now) >= self.idle_timeout:
                    _close(handler, f"idle for {self.idle_timeout:g} s")

    # bodies

    def body_limit(self, request: http.Request) -> tuple[int, str]:
        """The limit for this request's body, and the option that sets it."""
        if limits.upload_endpoint(request.host, request.method, request.path):
            return self.max_upload_body, "--max-upload-body"
        return self.max_body, "--max-body"

    def too_large(self, flow: http.HTTPFlow, size: int, limit: int, option: str) -> http.Response:
        message = (
            f"The request body ({_human(size)}) is larger than tapeproxy allows for this endpoint "
            f"({_human(limit)}, {option})."
        )
        status, headers, body = named_error(
            profile_for(flow.request.host), "too_large", flow.request.headers.items(), message
        )
        self.refused += 1
        logger.warning(
            responses.scrubbed(flow, f"tapeproxy: 413 for {flow.request.method} {flow.request.pretty_url}: {message}")
        )
        return responses.sized(status, [*headers, ("Connection", "close")], body)

    def streaming(self, flow: http.HTTPFlow, message: http.Message, what: str, size: int, limit: int):
        """What streams the body: a Spool writing it to a body file, or True (not recorded)."""
        folder, where = self.mode.body_files, f"{flow.request.method} {flow.request.pretty_url}"
        if not folder:
            why = "(raise --max-body / --max-upload-body, or give --body-files, to record it)"
        elif not Redactor.leaves_alone(
            flow.request.pretty_url,
            message.headers.get("content-type", ""),
            message.headers.get("content-encoding", ""),
        ):
            why = (
                "(text, JSON, forms and compressed bodies are redacted whole, so they are not stored as they "
                "stream; raise --max-body / --max-upload-body to record it)"
            )
        else:
            try:
                spool = Spool(folder)
            except OSError as e:
                why = f"(its body file could not be made in {folder}: {e.strerror or e!r})"
            else:
                state = state_of(flow)
                state.spools = {**(state.spools or {}), what: spool}
                logger.info(
                    responses.scrubbed(
                        flow, f"tapeproxy: streaming the {what} body of {where} ({_human(size)}) into {folder}"
                    )
                )
                return spool
        self.streamed += 1
        logger.warning(
            responses.scrubbed(
                flow,
                f"tapeproxy: NOT RECORDED {where}: the {what} body ({_human(size)}) is over {_human(limit)}, "
                f"so it is streamed, not kept {why}",
            )
        )
        return True


def _human(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} bytes"


def _raise_open_files() -> int:
    """The soft open-files limit, raised to the hard one first (as servers do)."""
    try:
        import resource
    except ImportError:  # Windows: no such limit to raise
        return 1 << 16
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 16)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 16


def _handlers() -> dict:
    server = ctx.master.addons.get("proxyserver")
    return getattr(server, "connections", {}) if server else {}


def _idle_for(handler, now: float) -> float:
    """Seconds without traffic; 0 while a hook holds the connection (a scripted delay, say) or it has
    an upstream connection (recording: a slow server may take long to answer; mitmproxy's own
    10-minute timeout applies there)."""
    watchdog = handler.timeout_watchdog
    if watchdog.blocker or len(handler.transports) > 1:
        return 0.0
    return now - watchdog.last_activity


def _close(handler, why: str) -> None:
    io = handler.transports.get(handler.client)
    if io is not None and io.handler is not None:
        logger.debug(f"tapeproxy: closing client connection {handler.client.peername}: {why}")
        io.handler.cancel(why)


# mitmproxy patches

_installed = False
_original_check_body_size = http_layer.HttpStream.check_body_size
_original_read_headers = _http1.Http1Server.read_headers
_original_handle_h2_event = _http2.Http2Server.handle_h2_event


def install() -> None:
    """Wrap mitmproxy's body-size check, HTTP/1 head reader and HTTP/2 event handler, once per process."""
    global _installed
    if _installed:
        return
    http_layer.HttpStream.check_body_size = _check_body_size  # type: ignore[method-assign]
    _http1.Http1Server.read_headers = _read_headers  # type: ignore[method-assign]
    _http2.Http2Server.handle_h2_event = _handle_h2_event  # type: ignore[method-assign]
    _installed = True


def _check_body_size(self, request: bool):
    """mitmproxy's check, with tapeproxy's limit per endpoint class in front of it."""
    active = _ACTIVE.get(id(self.context.options))
    if active is None or self.flow is None or self.flow.request is None:
        return (yield from _original_check_body_size(self, request))
    buffered = self.request_body_buf if request else self.response_body_buf
    if buffered:
        size: int | None = len(buffered)
    else:
        try:
            size = expected_http_body_size(self.flow.request, None if request else self.flow.response)
        except ValueError:
            size = None
    limit, option = active.body_limit(self.flow.request)
    if not active.mode.live and request:  # what the cassettes hold must get in to be answered
        limit = max(limit, active.mode.largest_recorded_request)
    if size is None or size <= limit or (not request and streams_body_file(self.flow)):
        # under the limit, or a body file replay streams from its own file server: not ours to bound
        return (yield from _original_check_body_size(self, request))
    if request and not active.mode.live:
        self.flow.response = active.too_large(self.flow, size, limit, option)
        responses.served_by(self.flow, "limit", "request body over the limit")
        self.request_body_buf.clear()
        # The rest of the body is read and dropped, never kept: a client still sending it gets the answer
        # once it reads (closing now would reset the connection and lose the answer); HTTP/1 then closes.
        self.client_state = self.state_errored
        yield from self.send_response()
        # mitmproxy ends a response only once the request is done (flow_done); this one is done now.
        # Without it an HTTP/2 client waits for END_STREAM forever.
        yield http_layer.SendHttp(http_layer.ResponseEndOfMessage(self.stream_id), self.context.client)
        return True
    # Recording: pass it through unbuffered, as mitmproxy's stream_large_bodies does, into a body file
    # when --body-files allows it.
    message = self.flow.request if request else self.flow.response
    message.stream = active.streaming(self.flow, message, "request" if request else "response", size, limit)
    if buffered:  # what was kept so far goes first
        body = bytes(buffered)
        buffered.clear()
        yield from (self.start_request_stream() if request else self.start_response_stream())
        data = http_layer.RequestData if request else http_layer.ResponseData
        yield from self.handle_event(data(self.stream_id, body))
    return False


def _read_headers(self, event):
    """mitmproxy's HTTP/1 head reader, bounded: it buffers an unfinished head of any size."""
    yield from _original_read_headers(self, event)
    active = _ACTIVE.get(id(self.context.options))
    if active is not None and self.state == self.read_headers and len(self.buf) > active.max_header:
        active.refused += 1
        logger.warning(
            f"tapeproxy: 431 for {self.conn.peername}: request headers over {_human(active.max_header)} (--max-header)"
        )
        yield commands.SendData(
            self.conn,
            _http1.make_error_response(
                431, f"Request header fields are larger than tapeproxy allows ({_human(active.max_header)})."
            ),
        )
        yield commands.CloseConnection(self.conn)
        self.buf = type(self.buf)()
        self.state = self.done


def _handle_h2_event(self, event):
    """mitmproxy's HTTP/2 server events, with a budget for streams the client resets."""
    if isinstance(event, h2.events.StreamReset) and event.stream_id in self.streams:  # one it left unanswered
        active = _ACTIVE.get(id(self.context.options))
        if active is not None:
            now = time.monotonic()
            resets = self.__dict__.setdefault("_tapeproxy_resets", collections.deque())
            resets.append(now)
            while now - resets[0] > limits.RESET_WINDOW:
                resets.popleft()
            if len(resets) > limits.MAX_CLIENT_RESETS:
                active.refused += 1
                logger.warning(
                    f"tapeproxy: closed the HTTP/2 connection of {self.conn.peername}: more than "
                    f"{limits.MAX_CLIENT_RESETS} HTTP/2 stream resets in {limits.RESET_WINDOW:g} s "
                    f"(rapid reset)"
                )
                yield from self.protocol_error("too many stream resets", h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
                return True
    return (yield from _original_handle_h2_event(self, event))
