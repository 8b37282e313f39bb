"""Upload sessions: Graph's resumable ones, shared by drive items and print documents, and what
Box's chunked uploads share with them: how long a session lives and how many bytes all sessions
may hold in memory together.

A Graph session's uploadUrl takes byte-range fragments (`Content-Range: bytes a-b/total`),
answers 202 with the ranges still expected, and hands the parts to whoever created the session
once the last byte is in; that caller joins and hashes them off the event loop (`joined`).

Sessions are not saved (they expire, as the services' do). Every session has a deadline; expired
ones are freed before any new bytes are taken, and the bytes all sessions hold, of both APIs, are
capped (`World.max_session_bytes`, --max-upload-sessions): past the cap, the API's 507.
"""

from __future__ import annotations

import datetime
import re
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..core import numbers
from ..core.profiles import graph as graph_profile
from .blobs import Digests
from .http import ApiError, Later, Reply, SimRequest

if TYPE_CHECKING:
    from .world import World

LIFETIME = datetime.timedelta(days=1)  # what the simulation gives a Graph session (Graph's vary)
CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+)\s*$")

Reply202 = Callable[[SimRequest, int, dict | None], Reply]  # graph_print._reply's shape


def content_range(value: str | None) -> tuple[int, int, int] | None:
    """(first, last, total) of `bytes first-last/total`; None if malformed (numbers too long included)."""
    m = CONTENT_RANGE.match(value or "")
    if not m:
        return None
    parsed = [numbers.count(g) for g in m.groups()]
    return None if None in parsed else (parsed[0], parsed[1], parsed[2])  # type: ignore[return-value]


# -- what all sessions share ----------------------------------------------------------------------
def sessions(world: World) -> list[dict[str, dict]]:
    return [world.box_sessions, world.graph_sessions]


def held(world: World) -> int:
    """Bytes the upload sessions in progress hold, both APIs'."""
    return sum(len(c) for kind in sessions(world) for s in kind.values() for c in s["chunks"].values())


def sweep(world: World, now: float | None = None) -> int:
    """Frees every expired session; how many."""
    now = time.time() if now is None else now
    freed = 0
    for kind in sessions(world):
        for sid in [sid for sid, s in kind.items() if s["deadline"] <= now]:
            del kind[sid]
            freed += 1
    return freed


def admit(world: World, size: int, now: float | None = None) -> None:
    """Room for `size` more bytes in the sessions, expired ones freed first; else the API's 507."""
    if size <= 0:
        return
    held_now = held(world)
    if held_now + size > world.max_session_bytes:
        sweep(world, now)
        held_now = held(world)
    if held_now + size > world.max_session_bytes:
        raise ApiError(
            "insufficient_storage",
            f"tapeproxy: the upload sessions in progress hold {held_now:,} bytes, and {size:,} more would pass "
            f"the {world.max_session_bytes:,} they may hold together (--max-upload-sessions); finish or "
            "delete a session first",
        )


def expired(s: dict, now: float | None = None) -> bool:
    return s["deadline"] <= (time.time() if now is None else now)


def joined(parts: list[bytes]) -> tuple[bytes, Digests]:
    """A session's parts as one content and its digests: for a worker thread, never the event loop."""
    content = b"".join(parts)
    return content, Digests.of(content)


# -- Graph's sessions -----------------------------------------------------------------------------
def create(world: World, url: str, now: float | None = None, **target) -> tuple[str, dict]:
    """A new session for `target` (what the completion needs); its id and its uploadSession body."""
    sweep(world, now)
    session_id = secrets.token_urlsafe(24)
    began = time.time() if now is None else now
    expires = datetime.datetime.fromtimestamp(began, datetime.UTC) + LIFETIME
    s = {
        **target,
        "size": None,
        "chunks": {},
        "expires": expires.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "deadline": expires.timestamp(),
    }
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


def fragment(
    world: World, req: SimRequest, session_id: str, reply: Reply202, now: float | None = None
) -> tuple[dict, list[bytes]] | Reply:
    """A request to an uploadUrl (under the world's lock): its Reply, or (the session, its parts in
    order) when the last byte is in; the caller joins them off the lock (`joined`)."""
    s = world.graph_sessions.get(session_id)
    if s is not None and expired(s, now):
        del world.graph_sessions[session_id]
        s = None
    if s is None:  # Graph: a 404 means the session is gone; start the upload over
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
    span = content_range(req.header("content-range"))
    if span is None:
        raise _bad("The Content-Range header is missing or malformed: bytes FIRST-LAST/TOTAL.")
    first, last, total = span
    if last < first or last >= total:
        raise _bad(f"The Content-Range bytes {first}-{last}/{total} is not valid.")
    if total > graph_profile.MAX_FILE_SIZE:
        raise ApiError(
            "bad_request",
            f"The file size {total:,} exceeds the maximum of {graph_profile.MAX_FILE_SIZE:,} bytes.",
            code="invalidRequest",
            context={"inner_code": "maxFileSizeExceeded"},
        )
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
    admit(world, len(req.body), now)
    s["size"] = total
    s["chunks"][first] = req.body
    if missing(s):
        return reply(req, 202, status(s))
    parts = [s["chunks"][k] for k in sorted(s["chunks"])]
    s.update(done=True, chunks={})
    return s, parts


Finish = Callable[[dict, bytes, Digests], Reply]  # (the session, its content, its digests) -> the Reply


def answer(world: World, req: SimRequest, reply: Reply202, finish: Finish) -> Reply | Later:
    """A request to an uploadUrl, answered: `fragment` under the world's lock; once the last byte
    is in, Later work joins and hashes the parts off the lock, then calls `finish` under it."""
    with world.lock:
        done = fragment(world, req, req.query.get("guid", ""), reply)
    if isinstance(done, Reply):
        return done
    s, parts = done

    def complete() -> Reply:
        content, digests = joined(parts)
        # on disk first, off the lock (--state); then the record naming it, in one transaction
        with world.content_kept(content, digests), world.lock, world.store.transaction():
            return finish(s, content, digests)

    return Later(complete)


def _bad(message: str) -> ApiError:
    return ApiError("bad_request", message, code="invalidRequest")
