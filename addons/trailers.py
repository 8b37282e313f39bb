"""HTTP/1 chunked messages with trailer fields, which mitmproxy 11 cannot handle.

mitmproxy's HTTP/1 reader raises NotImplementedError("HTTP trailers are not implemented yet.") when
a chunked request or response ends with trailer fields: the connection handler crashes and the
client never gets an answer. Trailers are optional metadata a recipient may discard (RFC 9110,
section 6.5.1), so the body reader here drops them, logs their names, and the message is handled as
if it had none. Installed once, when the tapeproxy addons are imported.
"""

from __future__ import annotations

import logging

import h11
from mitmproxy.proxy.layers.http import _http1

logger = logging.getLogger(__name__)

_original_make_body_reader = _http1.make_body_reader


def _make_body_reader(expected_size):
    return _TrailersDropped(_original_make_body_reader(expected_size))


class _TrailersDropped:
    def __init__(self, reader) -> None:
        self.reader = reader

    def __call__(self, buf):
        event = self.reader(buf)
        if isinstance(event, h11.EndOfMessage) and event.headers:
            logger.info(
                "tapeproxy: dropped HTTP/1 trailer field(s) "
                + ", ".join(name.decode("latin-1") for name, _ in event.headers)
            )
            return h11.EndOfMessage()
        return event

    def read_eof(self):
        return self.reader.read_eof()


_http1.make_body_reader = _make_body_reader
