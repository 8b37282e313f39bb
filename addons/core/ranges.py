"""Range and conditional GETs answered from a whole recorded 200, as the real services and their
download hosts do (RFC 9110 sections 13 and 14): resumable downloads and media players ask for
`Range: bytes=a-b`, caches for `If-None-Match`.

Only what is unambiguous is narrowed: a single bytes range of a body served without a content
coding. Anything else (several ranges, a syntax this does not read, a failed If-Range) gets the
whole 200, which RFC 9110 allows a server to send instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import numbers

Header = tuple[str, str]

_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)
# What a 304 keeps of the 200 it stands for (RFC 9110 15.4.5).
_NOT_MODIFIED_KEEPS = {"etag", "cache-control", "content-location", "date", "expires", "vary", "last-modified"}
_REPLACED = {"content-length", "content-range", "accept-ranges"}


def narrow(
    method: str, request_headers: Iterable[Header], status: int, headers: Iterable[Header], body: bytes
) -> tuple[int, list[Header], bytes] | None:
    """The 304, 206 or 416 that a conditional or range GET gets instead of this 200; None for the 200."""
    planned = plan(method, request_headers, status, headers, len(body))
    if planned is None:
        return None
    status, headers, span = planned
    return status, headers, body[span[0] : span[1] + 1] if span else b""


def plan(
    method: str, request_headers: Iterable[Header], status: int, headers: Iterable[Header], size: int
) -> tuple[int, list[Header], tuple[int, int] | None] | None:
    """narrow() for a body of `size` bytes not at hand (a body file): the status, the headers and
    the (first, last) byte to send (None: no body); None for the whole 200."""
    if method != "GET" or status != 200:
        return None
    asked = {k.lower(): v for k, v in request_headers}
    headers = list(headers)
    have = {k.lower(): v for k, v in headers}
    etag = have.get("etag")
    if etag and "if-none-match" in asked and _listed(asked["if-none-match"], etag):
        return 304, [(k, v) for k, v in headers if k.lower() in _NOT_MODIFIED_KEEPS], None
    if "range" not in asked or "content-encoding" in have:
        return None
    if "if-range" in asked and asked["if-range"].strip() not in (etag, have.get("last-modified")):
        return None  # the client's copy is another version: the whole body
    span = _span(asked["range"], size)
    if span is None:
        return None
    kept = [(k, v) for k, v in headers if k.lower() not in _REPLACED]
    if span == (-1, -1):
        return 416, [*kept, ("Content-Range", f"bytes */{size}"), ("Content-Length", "0")], None
    first, last = span
    return (
        206,
        [*kept, ("Content-Range", f"bytes {first}-{last}/{size}"), ("Content-Length", str(last - first + 1))],
        span,
    )


def _span(value: str, size: int) -> tuple[int, int] | None:
    """(first, last) of a single bytes range; (-1, -1) if unsatisfiable; None to ignore it."""
    found = _RANGE.fullmatch(value)
    if not found or not (found[1] or found[2]):
        return None
    # numbers too long to be offsets make a Range this does not read: ignored, as RFC 9110 allows
    first_given, last_given = numbers.count(found[1] or "0"), numbers.count(found[2] or "0")
    if first_given is None or last_given is None:
        return None
    if not found[1]:  # the last n bytes
        n = last_given
        return (max(0, size - n), size - 1) if n and size else (-1, -1)
    first = first_given
    last = last_given if found[2] else None
    if last is not None and last < first:
        return None  # invalid: ignored
    if first >= size:
        return (-1, -1)
    return first, size - 1 if last is None else min(last, size - 1)


def _listed(if_none_match: str, etag: str) -> bool:
    """Weak comparison, as If-None-Match uses: W/"x" and "x" are the same tag."""
    tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
    return "*" in tags or etag.strip().removeprefix("W/") in tags
