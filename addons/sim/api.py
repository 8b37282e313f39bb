"""What every simulated answer of each API shares: its reply with the service's standard headers,
and the time as the API writes it. Errors go through http.error_reply (the profiles' envelopes)."""

from __future__ import annotations

import datetime
from typing import Any

from ..core.profiles import box as box_profile
from ..core.profiles import graph as graph_profile
from .http import ApiError, Reply, SimRequest, json_reply


def now() -> str:
    """Box's timestamps: seconds, with the offset."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()


def graph_now() -> str:
    """Graph's timestamps: UTC with a Z."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_headers(req: SimRequest) -> list[tuple[str, str]]:
    return [*graph_profile.standard_headers(req.headers), ("OData-Version", "4.0")]


def graph_reply(req: SimRequest, status: int, data: Any = None, headers=()) -> Reply:
    base = [*graph_headers(req), *headers]
    if data is None:
        return Reply(status, base, b"")
    r = json_reply(status, data)
    r.headers = [("Content-Type", graph_profile.JSON_CONTENT_TYPE), *base]
    return r


def box_unchanged(req: SimRequest, etag: Any) -> bool:
    """Box's conditional requests on an item of this etag: a change whose If-Match names another
    is refused (412); a read whose If-None-Match names this one is unchanged (True: answer 304)."""
    current = str(etag if etag is not None else "0")
    if req.method == "GET":
        wanted = req.header("if-none-match")
        return wanted is not None and wanted.strip().strip('"') == current
    wanted = req.header("if-match")
    if wanted is not None and wanted.strip().strip('"') != current:
        raise ApiError("precondition_failed", "The resource has been modified. Please retrieve the resource again")
    return False


def box_reply(status: int, data: Any = None, headers=()) -> Reply:
    base = [*box_profile.standard_headers(), *headers]  # (Box's depend on no request header)
    if data is None:
        return Reply(status, base, b"")
    r = json_reply(status, data)
    r.headers += base
    return r
