"""What one request may cost before tapeproxy refuses it: body and header sizes, idle time, connections.

Bodies are limited per endpoint class. API calls carry JSON and stay small (Graph documents 4 MB for
most requests); uploads carry file content: Box's upload host, Graph's `.../content` and upload
sessions. A body over its class's limit is answered 413 in the API's envelope without being read
into memory; while recording it is streamed upstream instead, and not recorded.
"""

from __future__ import annotations

import re

from .errors import InputError
from .profiles import box as box_profile

KIB, MIB = 1024, 1024 * 1024
DEFAULT_MAX_BODY = "4m"  # API calls: JSON bodies
# Uploads: Graph's upload-session fragments are < 60 MiB; Box recommends direct uploads up to 50 MB
# and chunked-upload parts are smaller still.
DEFAULT_MAX_UPLOAD_BODY = "64m"
# What the simulation's upload sessions in progress (Box chunked uploads, Graph upload sessions)
# may hold in memory together: a 200 MB chunked upload fits twice over.
DEFAULT_MAX_UPLOAD_SESSIONS = "512m"
DEFAULT_MAX_HEADER = "64k"  # request line and headers of one HTTP/1 request (h2's own default too)
DEFAULT_IDLE_TIMEOUT = 60  # seconds a client connection may sit with no traffic (whole: --set has no floats)
DEFAULT_MAX_CONNECTIONS = 1000
# HTTP/2 streams a client may open and reset on one connection in RESET_WINDOW seconds before the
# connection is closed (GOAWAY ENHANCE_YOUR_CALM): the "rapid reset" attack (CVE-2023-44487) opens
# and cancels streams faster than any limit on concurrent streams can see. A browser or SDK cancels
# a handful.
MAX_CLIENT_RESETS = 100
RESET_WINDOW = 10.0
RESERVED_FDS = 100  # files, cassettes, upstream connections, the event loop's own

_UPLOAD_SUFFIXES = (".boxcloud.com",)
_SIZE = re.compile(r"\s*(\d+)\s*([kmg]?)i?b?\s*", re.IGNORECASE)


def parse_size(text: str, option: str) -> int:
    """'4m', '64k', '1g' or a number of bytes (binary units, as mitmproxy's body_size_limit)."""
    m = _SIZE.fullmatch(str(text))
    if not m or int(m.group(1)) <= 0:
        raise InputError(f"{option} {text!r}: expected a size such as 512k, 4m or 1g")
    return int(m.group(1)) * {"": 1, "k": KIB, "m": MIB, "g": 1024 * MIB}[m.group(2).lower()]


def upload_endpoint(host: str, method: str, path: str) -> bool:
    """Whether a request carries file content: Box's upload and download hosts, Graph's content
    uploads (`PUT .../content`, `...:/content`) and upload-session fragments."""
    host = host.lower()
    if box_profile.is_upload_host(host) or host.endswith(_UPLOAD_SUFFIXES):
        return True
    route = path.split("?", 1)[0].rstrip("/")
    return method.upper() in ("PUT", "POST", "PATCH") and (
        route.endswith("/content") or route.endswith(":/content") or "/uploadSession" in route
    )


def connection_cap(requested: int, open_files: int) -> int:
    """At most `requested` client connections, and never so many that the process runs out of file
    descriptors: each client may need an upstream connection too while recording."""
    return max(1, min(requested, (open_files - RESERVED_FDS) // 2))
