"""Graph's resumable upload sessions, shared by drive items and print documents: an uploadUrl that
takes byte-range fragments (`Content-Range: bytes a-b/total`), answers 202 with the ranges still
expected, and hands the whole content to whoever created the session once the last byte is in.
"""

from __future__ import annotations

import datetime
import re
import secrets
from collections.abc import Callable

from .http import ApiError, Reply, SimRequest
from .world import World

LIFETIME = datetime.timedelta(days=1)
CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$")

Reply202 = Callable[[SimRequest, int, dict | None], Reply]  # graph_print._reply's shape


def create(world: World, url: str, **target) -> tuple[str, dict]:
    """A new session for `target` (what the completion needs); its id and its uploadSession body."""
    session_id = secrets.token_urlsafe(24)
    expires = datetime.datetime.now(datetime.UTC) + LIFETIME
    s = {**target, "size": None, "chunks": {}, "expires": expires.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}
    world.graph_sessions[session_id] = s
    return session_id, {
        "uploadUrl": f"{url}{session_id}",
        "expirationDateTime": s["expires"],
        "nextExpectedRanges": ["0-"],
    }


def missing(s: dict) -> list[str]:
    """nextExpectedRanges: the gaps in what has arrived, the last open-ended as Graph writes it."""
    out, at = [], 0
    for first in sorted(s["chunks"]):
        if first > at:
            out.append(f"{at}-{first - 1}")
        at = max(at, first + len(s["chunks"][first]))
    if s["size"] is None or at < s["size"]:
        out.append(f"{at}-")
    return out


def status(s: dict) -> dict:
    return {"expirationDateTime": s["expires"], "nextExpectedRanges": missing(s)}


def fragment(world: World, req: SimRequest, session_id: str, reply: Reply202) -> tuple[dict, bytes] | Reply:
    """A request to an uploadUrl: its Reply, or (the session, the whole content) when it completes one."""
    s = world.graph_sessions.get(session_id)
    if s is None:
        raise ApiError("not_found", "The upload session was not found or has expired.", code="itemNotFound")
    if s.get("done"):
        # Graph answers a fragment sent after the last one 400 (msgraph-sdk-python-core issue 718)
        raise ApiError("bad_request", "The upload session has already been completed.", code="invalidRequest")
    if req.method == "GET":
        return reply(req, 200, status(s))
    if req.method == "DELETE":
        del world.graph_sessions[session_id]
        return reply(req, 204, None)
    if req.method != "PUT":
        raise ApiError("method_not_allowed")
    m = CONTENT_RANGE.match(req.header("content-range") or "")
    if not m:
        raise _bad("The Content-Range header is missing or malformed: bytes FIRST-LAST/TOTAL.")
    first, last, total = (int(g) for g in m.groups())
    if last < first or last >= total:
        raise _bad(f"The Content-Range bytes {first}-{last}/{total} is not valid.")
    if s["size"] is not None and total != s["size"]:
        raise _bad(f"The declared total size {total} differs from the session's {s['size']}.")
    if s.get("expected") is not None and total != s["expected"]:
        raise _bad(f"The declared total size {total} differs from the {s['expected']} bytes the session was made for.")
    if len(req.body) != last - first + 1:
        raise _bad(f"The fragment is {len(req.body)} bytes; its Content-Range says {last - first + 1}.")
    for start, chunk in s["chunks"].items():
        if first < start + len(chunk) and start <= last:
            raise ApiError(
                "bad_request",
                "The uploaded fragment overlaps with data that has already been received "
                f"(bytes {start}-{start + len(chunk) - 1}).",
                code="invalidRange",
                status=416,
            )
    s["size"] = total
    s["chunks"][first] = req.body
    if missing(s):
        return reply(req, 202, status(s))
    content = b"".join(s["chunks"][k] for k in sorted(s["chunks"]))
    s.update(done=True, chunks={})
    return s, content


def _bad(message: str) -> ApiError:
    return ApiError("bad_request", message, code="invalidRequest")
