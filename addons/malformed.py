"""Refuse header fields no API accepts: a bare CR, a NUL, or an obs-fold continuation line.

mitmproxy's HTTP/1 reader keeps them (a fold joined as "\r\n ", a CR or NUL inside the value) and
would forward them upstream while recording. HTTP/1 parsers disagree about such lines, which is
how requests are smuggled past proxies; RFC 9112 lets a server reject them with 400, as the APIs'
front ends do. Answered in the API's envelope, never forwarded, in every mode.
"""

from __future__ import annotations

import logging
import re

from mitmproxy import http

from .core.profiles import profile_for
from .runtime import responses

logger = logging.getLogger(__name__)
_ANY_FLAW = re.compile(rb"[\r\n\0]")  # one search over all the fields first: almost every request has none


def _flaw(name: bytes, value: bytes) -> str | None:
    for field in (name, value):
        if b"\r\n" in field or b"\n" in field:
            return "a folded line (obs-fold)"
        if b"\r" in field:
            return "a bare CR"
        if b"\0" in field:
            return "a NUL"
    return None


class MalformedHeaders:
    name = "tapeproxy_malformed"

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        fields = flow.request.headers.fields
        if _ANY_FLAW.search(b"".join(b"".join(field) for field in fields)) is None:
            return
        for name, value in fields:
            flaw = _flaw(name, value)
            if flaw:
                header = name.decode("latin-1", "replace").strip()
                message = f"The request header {header!r} contains {flaw}, which HTTP does not allow."
                logger.warning(
                    responses.scrubbed(
                        flow, f"tapeproxy: 400 for {flow.request.method} {flow.request.pretty_url}: {message}"
                    )
                )
                flow.response = responses.api_error(flow, 400, _bad_request_code(flow), message)
                responses.served_by(flow, "error", "malformed request header")
                return


def _bad_request_code(flow: http.HTTPFlow) -> str:
    return profile_for(flow.request.host).CATALOGUE["bad_request"][1]
