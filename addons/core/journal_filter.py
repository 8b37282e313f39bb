"""Which journal entries a caller asks for: the filters of GET /requests and the matcher of
POST /requests/count, checked and compiled once, applied to each entry.

Pure: an entry is anything with the attributes below (journal.Call), so the control API, the
pytest plugin and the tests share one definition of "this request matches".
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

from .errors import InputError

FILTER_KEYS = ("method", "host", "path", "status", "source", "since", "query", "headers", "body")
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Filter:
    methods: frozenset[str] = frozenset()
    host: re.Pattern | None = None
    path: re.Pattern | None = None
    statuses: tuple[tuple[int, int], ...] = ()  # inclusive ranges: 404 is (404, 404), 5xx (500, 599)
    sources: frozenset[str] = frozenset()
    after_id: int = 0
    after_time: float = 0.0
    query: tuple[tuple[str, re.Pattern], ...] = ()
    headers: tuple[tuple[str, re.Pattern], ...] = ()
    body: bytes = b""

    def matches(self, call) -> bool:
        if self.methods and call.method not in self.methods:
            return False
        if self.sources and call.source not in self.sources:
            return False
        if call.seq <= self.after_id or (self.after_time and call.time < self.after_time):
            return False
        if self.statuses and not any(lo <= (call.status or 0) <= hi for lo, hi in self.statuses):
            return False
        parts = urlsplit(call.url)
        if self.host and not self.host.fullmatch((parts.hostname or "").lower()):
            return False
        if self.path and not self.path.fullmatch(parts.path):
            return False
        if self.query:
            pairs = parse_qsl(parts.query, keep_blank_values=True)
            if not all(any(k == name and pat.fullmatch(v) for k, v in pairs) for name, pat in self.query):
                return False
        if self.headers:
            sent = [(k.lower(), v) for k, v in call.request_headers]
            if not all(any(k == name and pat.fullmatch(v) for k, v in sent) for name, pat in self.headers):
                return False
        return not self.body or self.body in call.request_body


def _glob(value: object, what: str, fold: bool = False) -> re.Pattern:
    if not isinstance(value, str):
        raise InputError(f"{what}: expected a string (a glob, e.g. /2.0/tasks/*)")
    return re.compile(fnmatch.translate(value.lower() if fold else value), re.IGNORECASE if fold else 0)


def _list(value: object, what: str) -> list[str]:
    """A comma-separated string (a query parameter) or a list of strings (JSON)."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise InputError(f"{what}: expected a string or a list of strings")


def _statuses(value: object) -> tuple[tuple[int, int], ...]:
    items = [str(value)] if isinstance(value, int) else _list(value, "status")
    out = []
    for item in items:
        if re.fullmatch(r"[1-5]xx", item, re.IGNORECASE):
            base = int(item[0]) * 100
            out.append((base, base + 99))
        elif item.isdigit():
            out.append((int(item), int(item)))
        else:
            raise InputError(f"status {item!r}: expected a status code (404) or a class (4xx)")
    return tuple(out)


def _since(value: object) -> tuple[int, float]:
    """An entry id (entries after it), or an ISO 8601 time (entries from it on)."""
    text = str(value).strip()
    if text.isdigit():
        return int(text), 0.0
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"since {text!r}: expected an entry id (42) or an ISO 8601 time (2026-12-02T10:00:00Z)"
        ) from None
    if when.tzinfo is None:
        raise InputError(f"since {text!r}: give the time zone (Z, or +01:00)")
    return 0, when.timestamp()


def _pairs(value: object, what: str, fold: bool) -> tuple[tuple[str, re.Pattern], ...]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InputError(f"{what}: expected an object of name: glob")
    return tuple(((k.lower() if fold else k), _glob(v, f"{what}.{k}")) for k, v in value.items())


def parse(given: dict) -> Filter:
    """A Filter from query parameters or a JSON matcher; an unknown key is an error naming the known ones."""
    unknown = sorted(set(given) - set(FILTER_KEYS) - {"limit"})
    if unknown:
        raise InputError(f"unknown filter(s) {', '.join(unknown)}; known: {', '.join(FILTER_KEYS)}, limit")
    after_id, after_time = _since(given["since"]) if given.get("since") not in (None, "") else (0, 0.0)
    body = given.get("body", "")
    if not isinstance(body, str):
        raise InputError("body: expected a string the request body contains")
    return Filter(
        methods=frozenset(m.upper() for m in _list(given.get("method", []), "method")),
        host=_glob(given["host"], "host", fold=True) if given.get("host") else None,
        path=_glob(given["path"], "path") if given.get("path") else None,
        statuses=_statuses(given["status"]) if given.get("status") not in (None, "") else (),
        sources=frozenset(_list(given.get("source", []), "source")),
        after_id=after_id,
        after_time=after_time,
        query=_pairs(given["query"], "query", fold=False) if given.get("query") else (),
        headers=_pairs(given["headers"], "headers", fold=True) if given.get("headers") else (),
        body=body.encode(),
    )


def limit_of(given: dict) -> int:
    value = given.get("limit", DEFAULT_LIMIT)
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise InputError(f"limit {value!r}: expected a number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(f"limit {limit}: between 1 and {MAX_LIMIT}")
    return limit
