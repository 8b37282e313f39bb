"""Building mitmproxy responses and recording on a flow what served it."""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Iterable

from mitmproxy import http
from mitmproxy.net.http import status_codes

from ..core import redact
from ..core.profiles import profile_for
from .flowstate import mark, streams_body_file

logger = logging.getLogger(__name__)

MISS_HEADER = "X-Tapeproxy-Miss"
ERROR_HEADER = "X-Tapeproxy-Error"


def _b(text: str) -> bytes:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def handled(flow: http.HTTPFlow) -> bool:
    """Answered already, killed (a scenario fault), streamed upstream while recording (a body over
    the size limit, see limits.py), or on its way to a body file's bytes: later layers leave it alone."""
    return flow.response is not None or flow.error is not None or bool(flow.request.stream) or streams_body_file(flow)


def make(status: int, headers: Iterable[tuple[str, str]], body: bytes, reason: str = "") -> http.Response:
    """A response sent exactly as given: raw body, headers untouched (callers set Content-Length).

    Not Response.make(): it re-encodes the body per Content-Encoding and rewrites Content-Length.
    """
    return make_raw(status, header_fields(headers), body, reason)


def header_fields(headers: Iterable[tuple[str, str]]) -> tuple[tuple[bytes, bytes], ...]:
    """Headers as mitmproxy stores them: for make_raw, and for callers that serve them many times."""
    return tuple((_b(k), _b(v)) for k, v in headers)


def make_raw(status: int, fields: tuple[tuple[bytes, bytes], ...], body: bytes, reason: str = "") -> http.Response:
    """make(), with headers already as header_fields() gives them.

    Built field by field: mitmproxy's constructor type-checks each field at run time (23 us of a
    replayed request's ~750, against 4 us this way), and these fields are ours, of known types.
    test_core checks the result against the constructor's.
    """
    now = time.time()
    data = object.__new__(http.ResponseData)
    data.__dict__.update(
        http_version=b"HTTP/1.1",
        status_code=status,
        reason=_b(reason or status_codes.RESPONSES.get(status, "")),
        headers=http.Headers(fields),
        content=body,
        trailers=None,
        timestamp_start=now,
        timestamp_end=now,
    )
    response = object.__new__(http.Response)
    response.data = data
    return response


def sized(status: int, headers: Iterable[tuple[str, str]], body: bytes, reason: str = "") -> http.Response:
    """make(), with any Content-Length given replaced by the body's own."""
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    return make(status, [*headers, ("Content-Length", str(len(body)))], body, reason)


def api_error(
    flow: http.HTTPFlow, status: int, code: str, message: str, extra_headers=(), context: dict | None = None
) -> http.Response:
    """An error in the envelope of the API the request was for."""
    profile = profile_for(flow.request.host)
    headers, body = profile.error(status, code, message, flow.request.headers.items(), context)
    return sized(status, [*headers, *extra_headers], body)


def served_by(flow: http.HTTPFlow, source: str, label: str) -> None:
    """Mark a synthetic flow: the recorder skips it, mitmweb shows the comment."""
    flow.is_replay = "response"
    mark(flow, source, label)
    flow.comment = f"tapeproxy: {label}"


def scrubbed(flow: http.HTTPFlow, text: str, redactor: redact.Redactor | None = None) -> str:
    """text (about this flow) without the secrets the request carries: for logs and comments."""
    return scrubber(flow, redactor)(text)


def scrubber(flow: http.HTTPFlow, redactor: redact.Redactor | None = None):
    """A function that scrubs texts about this flow; the request's secrets are found once."""
    req = flow.request
    secrets = (redactor or redact.Redactor()).secrets_in(
        req.pretty_url,
        req.headers.items(multi=True),
        req.headers.get("content-type", ""),
        req.get_content(strict=False) or b"",
    )
    return lambda text: redact.scrub(text, secrets)


def internal_error(flow: http.HTTPFlow, where: str, exc: BaseException) -> None:
    """Answer a flow whose handling failed, so it is never forwarded upstream."""
    logger.error(
        scrubbed(
            flow,
            f"tapeproxy: internal error in {where} for {flow.request.method} "
            f"{flow.request.pretty_url}:\n" + "".join(traceback.format_exception(exc)),
        )
    )
    flow.response = api_error(
        flow,
        500,
        "tapeproxyInternalError",
        f"tapeproxy failed while handling this request in {where}: {exc!r}",
        [(ERROR_HEADER, where)],
    )
    served_by(flow, "error", f"internal error in {where}")


BLOCKED_HEADER = "X-Tapeproxy-Blocked"


def blocked(flow: http.HTTPFlow, host: str) -> None:
    """Refuse a host tapeproxy does not answer, under tapeproxy_block_unknown_hosts: a 403 naming
    the host and the option that lets it through, never the network."""
    message = (
        f"tapeproxy: {host} is not a host tapeproxy answers, and --block-unknown-hosts keeps it off the "
        f"network; --allow-host {host} lets it through (pytest: tapeproxy_allowed_hosts, or --allowed-hosts)"
    )
    body = json.dumps({"error": {"code": "tapeproxyBlockedHost", "host": host, "message": message}}).encode()
    flow.response = sized(403, [("Content-Type", "application/json"), (BLOCKED_HEADER, "1")], body)
    served_by(flow, "blocked", f"blocked: {host} (--block-unknown-hosts)")
    logger.warning(f"tapeproxy BLOCKED {flow.request.method} {scrubbed(flow, flow.request.pretty_url)}: {host}")
