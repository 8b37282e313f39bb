"""What a recording writes: redacted, readable vcrpy entries, kept in cassette order.

An `Exchange` is one request and response as seen on the wire (secrets still in). The live
recorder and `tapeproxy import` both build Exchanges, so both redact and decode the same way.
A `Recording` is the cassette being written.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import matching, writer
from .matching import Shape, header_value
from .profiles import profile_for
from .redact import Redactor
from .served import body_is_encoded, decoded


@dataclass(slots=True)
class Exchange:
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    status: int
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: bytes  # as received, or already decoded: entry() finds out which
    started: float | None = None  # epoch seconds
    duration_ms: int | None = None
    as_received: bool = False  # response_body is exactly the bytes on the wire (the live recorder)


def readable_body(headers: list[tuple[str, str]], body: bytes) -> tuple[list[tuple[str, str]], bytes]:
    """The body with its Content-Encoding undone, and headers that say so.

    A body already decoded under a stale Content-Encoding (HAR files, vcrpy) loses the header too;
    only a coding we cannot undo keeps it, with the body untouched.
    """
    encoding = ", ".join(v for k, v in headers if k.lower() == "content-encoding")
    if encoding:
        if body and body_is_encoded(body, encoding):
            plain = decoded(body, encoding)
            if plain is None:  # e.g. zstd without its decoder: leave body and header alone
                return _with_length(headers, body), body
            body = plain
        headers = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
    return _with_length(headers, body), body


def _with_length(headers, body: bytes) -> list[tuple[str, str]]:
    return [
        (k, str(len(body)) if k.lower() == "content-length" else v)
        for k, v in headers
        if k.lower() != "transfer-encoding"
    ]


def _header_dict(items) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in items:
        out.setdefault(name, []).append(value)
    return out


def entry(exchange: Exchange, redactor: Redactor) -> dict:
    """A vcrpy interaction with every secret replaced by its placeholder."""
    r = redactor
    url = r.url(exchange.url)
    request_type = header_value(exchange.request_headers, "content-type")
    req_body = r.body(url, request_type, exchange.request_body or b"")
    extra: dict[str, Any] = {}
    raw = exchange.response_body or b""
    encoding = header_value(exchange.response_headers, "content-encoding")
    if exchange.as_received and raw and encoding and not body_is_encoded(raw, encoding):
        # Not what its header says (a broken server or middlebox): the client got these bytes with
        # that header, so the cassette keeps both, marked so replay does not "fix" the header.
        headers, body = _with_length(exchange.response_headers, raw), raw
        extra["body_as_received"] = True
    else:
        headers, body = readable_body(exchange.response_headers, raw)
        body = r.body(url, header_value(headers, "content-type"), body)
    if exchange.started is not None:
        extra["recorded_at"] = datetime.datetime.fromtimestamp(exchange.started, datetime.UTC).isoformat(
            timespec="seconds"
        )
    if exchange.duration_ms is not None:
        extra["duration_ms"] = exchange.duration_ms
    out = {
        # vcrpy's requests stub writes null for "no body"; tapeproxy does the same.
        "request": {
            "body": writer.text_or_binary(req_body) or None,
            "headers": _header_dict(r.headers(exchange.request_headers)),
            "method": exchange.method.upper(),
            "uri": url,
        },
        "response": {
            "status": {"code": exchange.status, "message": exchange.reason},
            "headers": _header_dict(r.headers(headers)),
            "body": {"string": writer.text_or_binary(body)},
        },
    }
    _sweep(out, r)
    if extra:
        out["tapeproxy"] = extra
    return out


def _sweep(e: dict, r: Redactor) -> None:
    """Secrets the request carried, also where else they appear in the interaction."""
    req, resp = e["request"], e["response"]
    req["uri"] = r.sweep(req["uri"])
    if isinstance(req["body"], str):
        req["body"] = r.sweep(req["body"])
    for headers in (req["headers"], resp["headers"]):
        for name, values in headers.items():
            headers[name] = [r.sweep(v) for v in values]
    if isinstance(resp["body"]["string"], str):
        resp["body"]["string"] = r.sweep(resp["body"]["string"])


def shape_of_entry(e: dict) -> Shape:
    req = e["request"]
    body = req["body"] or b""
    headers = [
        (str(k), str(v)) for k, vs in (req.get("headers") or {}).items() for v in (vs if isinstance(vs, list) else [vs])
    ]
    return Shape.from_uri(req["method"], req["uri"], headers, body.encode() if isinstance(body, str) else body)


class Recording:
    """The entries of the cassette being written, in order.

    `replace` is vcrpy's "all" mode: a new recording replaces the earlier recordings of the same
    request (by the replay match key) that the cassette held when recording started. Recordings
    made in this session all stay: they are a sequence.
    """

    def __init__(
        self,
        old_entries: Sequence[dict] = (),
        match_on=matching.DEFAULT_MATCH_ON,
        replace: bool = False,
        match_headers: tuple[str, ...] = (),
    ):
        self.match_on = tuple(match_on)
        self.match_headers = tuple(match_headers)
        self.replace = replace
        self._old = [(self._key(e) if replace else None, e) for e in old_entries]
        self._new: list[dict] = []

    def _key(self, e: dict) -> tuple:
        """Which request this is, as replay tells requests apart (its significant headers too)."""
        shape = shape_of_entry(e)
        return (
            *matching.key(shape, matching.key_matchers(self.match_on)),
            matching.header_constraint(
                shape, profile_for(shape.host).SIGNIFICANT_HEADERS + self.match_headers, "headers" in self.match_on
            ),
        )

    def add(self, e: dict) -> None:
        if self.replace and self._old:
            k = self._key(e)
            self._old = [(ok, oe) for ok, oe in self._old if ok != k]
        self._new.append(e)

    @property
    def added(self) -> int:
        return len(self._new)

    @property
    def size(self) -> int:
        """How many interactions the cassette holds now: the number of the one added last."""
        return len(self._old) + len(self._new)

    def entries(self) -> list[dict]:
        """A snapshot, safe to write while recording goes on."""
        return [e for _, e in self._old] + self._new
