"""What is sent for a recorded response: its status, headers and body, made consistent.

A recorded body is often already decoded while its header still says gzip (vcrpy does this), and a
stale Content-Length or Transfer-Encoding makes clients hang. So Content-Encoding is re-derived
from the body and Content-Length recomputed.
"""

from __future__ import annotations

import zlib

import brotli  # both are mitmproxy's own dependencies
import zstandard

from .cassette import Headers, RecordedResponse

# Hop-by-hop headers describe the recorded connection, not the response; HTTP/2 forbids them.
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"}


_UNCHECKED = object()  # a coding this process cannot decode


def _decodes(body: bytes, coding: str):
    """body decoded by one content coding, None if it is not encoded that way, or _UNCHECKED."""
    try:
        if coding in ("gzip", "x-gzip"):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out = d.decompress(body)
            return out if d.eof else None
        if coding == "deflate":
            for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
                try:
                    return zlib.decompress(body, wbits)
                except zlib.error:
                    continue
            return None
        if coding == "br":
            return brotli.decompress(body)
        if coding == "zstd":
            return zstandard.ZstdDecompressor().decompressobj().decompress(body)
    except Exception:  # any decoder failure means "not encoded this way"
        return None
    return body if coding == "identity" else _UNCHECKED


def _undo(body: bytes, content_encoding: str):
    data = body
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        data = _decodes(data, coding)
        if data is None or data is _UNCHECKED:
            return data
    return data


def body_is_encoded(body: bytes, content_encoding: str) -> bool:
    """Whether body is encoded as the header says; a coding we cannot check is trusted."""
    return _undo(body, content_encoding) is not None


def decoded(body: bytes, content_encoding: str) -> bytes | None:
    """body with its codings undone, or None where it is not so encoded or a coding is unknown here."""
    data = _undo(body, content_encoding)
    return None if data is _UNCHECKED else data


def served_headers(response: RecordedResponse, request_method: str, as_received: bool = False) -> Headers:
    """as_received: the body was recorded exactly as the server sent it (tapeproxy's
    `body_as_received` mark), so its Content-Encoding stays even where the body does not decode.
    A body in a body file is not at hand: its size is the file's, its coding as recorded."""
    body = response.body
    size = response.body_file.size if response.body_file is not None else len(body)
    encoding = ", ".join(v for k, v in response.headers if k.lower() == "content-encoding")
    checkable = response.body_file is None and not as_received
    drop_encoding = bool(encoding) and checkable and (not body or not body_is_encoded(body, encoding))
    # HEAD, 1xx, 204 and 304 carry no body: their recorded Content-Length describes another one.
    keep_length = request_method == "HEAD" or response.status < 200 or response.status in (204, 304)
    out: list[tuple[str, str]] = []
    length_set = False
    for name, value in response.headers:
        lname = name.lower()
        if lname in _HOP_BY_HOP or (drop_encoding and lname == "content-encoding"):
            continue
        if lname == "content-length" and not keep_length:
            if length_set:
                continue
            value, length_set = str(size), True
        out.append((name, value))
    if not keep_length and not length_set:
        out.append(("Content-Length", str(size)))
    return tuple(out)
