"""Guidance: what an app does that Graph's and Box's documentation advise against, found in the
traffic, one finding per rule and call, each naming what to do and where the docs say so. Pure:
the guidance addon feeds it each exchange; the journal shows and counts the findings.

Rules are switched off by id (`--guidance-off RULE`, or `all`).
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote

from .profiles import box, graph


@dataclass(frozen=True)
class Rule:
    id: str
    advice: str  # what to do, in one line
    link: str  # where the API's docs say so


RULES = {
    r.id: r
    for r in (
        Rule(
            "graph-select",
            "ask only for the properties the app uses with $select",
            "https://learn.microsoft.com/graph/query-parameters#select-parameter",
        ),
        Rule(
            "graph-client-request-id",
            "send a client-request-id header (a GUID) so that a call can be traced with Microsoft support",
            "https://learn.microsoft.com/graph/best-practices-concept#reliability-and-support",
        ),
        Rule(
            "graph-paging",
            "follow @odata.nextLink until there is none: the collection had more pages",
            "https://learn.microsoft.com/graph/paging",
        ),
        Rule(
            "graph-beta",
            "use /v1.0 in production: /beta APIs may change or go without notice",
            "https://learn.microsoft.com/graph/versioning-and-support",
        ),
        Rule(
            "graph-repeated",
            "cache what was just read instead of asking again, or use delta queries and change notifications",
            "https://learn.microsoft.com/graph/best-practices-concept#optimizations",
        ),
        Rule(
            "graph-batch-size",
            "send at most 20 requests in one $batch: Graph refuses more",
            "https://learn.microsoft.com/graph/json-batching",
        ),
        Rule(
            "graph-consistency-level",
            "send ConsistencyLevel: eventual (with $count=true) for advanced queries on directory objects",
            "https://learn.microsoft.com/graph/aad-advanced-queries",
        ),
        Rule(
            "graph-retry-after",
            "wait the seconds Retry-After says before retrying a throttled call",
            "https://learn.microsoft.com/graph/throttling",
        ),
        Rule(
            "box-fields",
            "ask for the fields the app uses with `fields`: listings return the mini variant otherwise",
            "https://developer.box.com/guides/api-calls/request-extra-fields/",
        ),
        Rule(
            "box-as-user",
            "send As-User only with an admin's or the service account's token of an app allowed to act as users",
            "https://developer.box.com/guides/authentication/jwt/as-user/",
        ),
        Rule(
            "box-events-stream-position",
            "poll /events with the next_stream_position of the previous answer: without it Box starts again",
            "https://developer.box.com/guides/events/pagination",
        ),
    )
}

SELECT_MIN_PROPERTIES = 20  # "a type with many properties": one with at least this many
REPEAT_WINDOW_S = 5.0
KEPT = 1_000  # next links, recent requests and event pollers remembered (the oldest forgotten)
BODY_LIMIT = 1 << 20  # bodies larger than this are not parsed for guidance
HEADERS = ("client-request-id", "consistencylevel", "as-user", "authorization")  # what the rules read
# A segment that can only be a key (a GUID, a number, or long like Outlook's and OneDrive's ids).
_KEY = re.compile(r"^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d+|[^/]{33,})$", re.IGNORECASE)
_DIRECTORY = {"users", "groups", "applications", "serviceprincipals", "devices", "directoryobjects", "me"}
_ADVANCED = re.compile(r"\bne\b|\bnot\s*\(|\bendswith\s*\(|/\$count\b", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)  # asked of every exchange and finding; apps repeat their paths
def operation(path: str) -> str:
    """A request's path (no query) with its key-like segments as `{id}`: calls that differ only in
    which item they address are one operation to advise on."""
    return "/".join("{id}" if _KEY.match(s) else s for s in path.split("/"))


@dataclass(slots=True)  # not frozen: one is made per request, and a frozen one costs several times as much to make
class Exchange:
    """What guidance looks at in one request and its answer."""

    method: str
    host: str
    path: str  # without the query
    target: str  # the path and query as sent
    headers: dict[str, str]  # of HEADERS, those sent (lower-case names)
    status: int | None
    request_body: bytes = b""  # only what a rule reads: a POST's
    response_body: bytes = b""
    response_type: str = ""
    early_retry: bool = False
    box_user_token: bool = False  # Box: the token was issued for a user (not the enterprise)
    when: float = 0.0


class Finding(NamedTuple):  # immutable and cheap to make: a rule may fire on every request
    rule: str
    detail: str  # what was seen

    @property
    def line(self) -> str:
        r = RULES[self.rule]
        return f"GUIDANCE {self.rule}: {self.detail}; {r.advice} ({r.link})"


@dataclass
class Advisor:
    """The rules with what they remember between calls (pages not followed, recent reads)."""

    off: frozenset[str] = frozenset()
    # The entity type a Graph path reads and how many properties it has (None: not entities):
    # from the spec models, given by the caller.
    entity_type: Callable[[str], tuple[str, int] | None] = lambda path: None
    _next_links: OrderedDict[str, str] = field(default_factory=OrderedDict)  # nextLink -> the read that gave it
    _recent: OrderedDict[tuple[str, str], tuple[float, int | None]] = field(default_factory=OrderedDict)
    _event_polls: OrderedDict[str, int] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, x: Exchange) -> list[Finding]:
        found: list[Finding] = []
        if x.host == graph.HOSTS[0]:
            self._graph(x, found)
        elif x.host in box.HOSTS:
            self._box(x, found)
        return [f for f in found if f.rule not in self.off]

    def unfollowed(self) -> list[Finding]:
        """At the end: the collection reads that paged and whose next page nobody asked for."""
        if "graph-paging" in self.off:
            return []
        with self._lock:
            reads = list(dict.fromkeys(self._next_links.values()))
        return [Finding("graph-paging", f"{read} had a next page that was never read") for read in reads]

    # -- Graph --------------------------------------------------------------------------------
    def _graph(self, x: Exchange, found: list[Finding]) -> None:
        asked = _graph_request(x.method, x.path, x.target, "client-request-id" in x.headers, _eventual(x.headers))
        if asked is None:
            return
        if self._next_links:  # a page asked for is a next link followed
            with self._lock:
                self._next_links.pop(f"https://{x.host}{asked.url}", None)
        found.extend(asked.findings)
        if x.early_retry:
            found.append(Finding("graph-retry-after", f"{x.method} {x.path} came back before its Retry-After"))
        if asked.batch:
            steps = (_json(x.request_body) or {}).get("requests")
            if isinstance(steps, list) and len(steps) > 20:
                found.append(Finding("graph-batch-size", f"a $batch of {len(steps)} requests"))
        if x.method == "GET" and x.status is not None and 200 <= x.status < 300:
            self._graph_read(x, asked, found)

    def _graph_read(self, x: Exchange, asked: _GraphRequest, found: list[Finding]) -> None:
        url = asked.url
        key = (x.method, url)
        now = x.when or time.time()
        with self._lock:
            before = self._recent.get(key)
            self._recent[key] = (now, x.status)
            self._recent.move_to_end(key)
            while len(self._recent) > KEPT:
                self._recent.popitem(last=False)
        if before is not None and now - before[0] < REPEAT_WINDOW_S:
            found.append(Finding("graph-repeated", f"GET {url} again after {now - before[0]:.1f}s"))
        if "json" not in x.response_type or len(x.response_body) > BODY_LIMIT:
            return
        if not x.response_body[:64].lstrip().startswith(b"{"):  # not an entity or a collection page
            return
        if not asked.selects:
            typed = self.entity_type(x.path)
            if typed is not None and typed[1] >= SELECT_MIN_PROPERTIES:
                found.append(
                    Finding("graph-select", f"GET {x.path} without $select: {typed[0]} has {typed[1]} properties")
                )
        # parsed only when it pages (most reads do not): a body parse per read costs more than the rest
        body = _json(x.response_body) if b"@odata.nextLink" in x.response_body else None
        link = body.get("@odata.nextLink") if isinstance(body, dict) else None
        if isinstance(link, str):
            with self._lock:
                self._next_links[unquote(link)] = f"GET {url}"
                while len(self._next_links) > KEPT:
                    self._next_links.popitem(last=False)

    # -- Box ----------------------------------------------------------------------------------
    def _box(self, x: Exchange, found: list[Finding]) -> None:
        if "as-user" in x.headers and x.box_user_token:
            found.append(Finding("box-as-user", f"{x.method} {x.path} sent As-User with a user's token"))
        if x.method != "GET" or x.status is None or not 200 <= x.status < 300:
            return
        query = _query(x.target)
        if x.path.rstrip("/") == "/2.0/events" and "stream_position" not in query:
            who = x.headers.get("authorization", "")[-16:]
            with self._lock:
                polls = self._event_polls.get(who, 0) + 1
                self._event_polls[who] = polls
                while len(self._event_polls) > KEPT:
                    self._event_polls.popitem(last=False)
            if polls > 1:
                found.append(Finding("box-events-stream-position", f"GET /2.0/events polled {polls} times without it"))
            return
        listing = b'"entries"' in x.response_body
        if listing and "fields" not in query and "json" in x.response_type and len(x.response_body) <= BODY_LIMIT:
            body = _json(x.response_body)
            if isinstance(body, dict) and isinstance(body.get("entries"), list) and body["entries"]:
                found.append(Finding("box-fields", f"GET {x.path} listed {len(body['entries'])} entries"))


@dataclass(frozen=True)
class _GraphRequest:
    """What the rules that look only at a Graph request's method, target and headers conclude."""

    findings: tuple[Finding, ...]
    url: str  # the target, unquoted
    selects: bool  # it asks for $select
    batch: bool  # a POST of /$batch


@functools.lru_cache(maxsize=4096)  # apps repeat their requests: these rules then cost a lookup
def _graph_request(method: str, path: str, target: str, has_request_id: bool, eventual: bool) -> _GraphRequest | None:
    parts = [p for p in path.split("/") if p]
    version, segments = (parts[0] if parts else ""), [p.lower().partition("(")[0] for p in parts[1:]]
    if version not in graph.VERSIONS:
        return None
    url = unquote(target)
    query = _query(target)
    found = []
    if version == "beta":
        found.append(Finding("graph-beta", f"{method} {path}"))
    if not has_request_id and segments[:1] != ["$batch"]:
        found.append(Finding("graph-client-request-id", f"{method} {path} came without one"))
    if segments and segments[0] in _DIRECTORY and not eventual:
        advanced = "$search" in query or query.get("$count", "").lower() == "true" or "$count" in segments
        if advanced or _ADVANCED.search(query.get("$filter", "")):
            found.append(Finding("graph-consistency-level", f"{method} {url} without ConsistencyLevel"))
    return _GraphRequest(tuple(found), url, "$select" in query, method == "POST" and segments == ["$batch"])


def _eventual(headers: dict[str, str]) -> bool:
    """graph.eventual, for headers already by lower-case name: one lookup."""
    return graph.eventual((("consistencylevel", headers.get("consistencylevel", "")),))


@functools.lru_cache(maxsize=4096)
def _query(target: str) -> MappingProxyType[str, str]:
    """A target's query parameters by lower-case name (read-only: the cache shares it)."""
    return MappingProxyType({k.lower(): v for k, v in parse_qsl(target.partition("?")[2], keep_blank_values=True)})


def _json(raw: bytes):
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
