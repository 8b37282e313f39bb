"""Request normalisation and vcrpy-named matchers, plus the explanation of a near miss.

A request is normalised once into a `Shape`; each matcher reads one field of it, so the index key
of a request is a tuple of plain values that hashes in O(1) whatever the cassette size.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from . import jsonbody, multipart, redact
from .errors import InputError
from .redact import is_placeholder

# Characters left unescaped in a normalised path segment (RFC 3986 pchar minus "%").
_PATH_SAFE = "!$&'()*+,;=:@-._~"
_SLASHES = re.compile(r"/{2,}")
# A path of only unreserved and sub-delim characters, without "//", is already normal.
_NORMAL_PATH = re.compile(r"(?:/[A-Za-z0-9!$&'()*+,;=:@\-._~]+)*/?")
_DEFAULT_PORT = {"http": 80, "https": 443}
# OAuth token endpoints: Box /oauth2/token, Microsoft identity /{tenant}/oauth2[/v2.0]/token.
_TOKEN_PATH = re.compile(r"/oauth2(?:/v2\.0)?/token/?$")
# Form fields of a token request that are credentials, or whose identity they are: a teammate's
# differ, and recorders filter them. The grant type, scope and subject type still count.
CREDENTIAL_FIELDS = frozenset(
    {
        "client_id",
        "client_secret",
        "client_assertion",
        "assertion",
        "refresh_token",
        "code",
        "code_verifier",
        "device_code",
        "username",
        "password",
        "subject_token",
        "actor_token",
        "box_subject_id",
    }
)
_SIMPLE_URI = re.compile(
    r"(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
    r"(?P<path>/[^?#\s]*)?(?:\?(?P<query>[^#\s]*))?",
    re.IGNORECASE,
)


def uri_problem(uri: str) -> str | None:
    """Why uri is not an absolute http(s) URL tapeproxy can match on, or None if it is."""
    simple = _SIMPLE_URI.fullmatch(uri)
    if simple:
        return None if simple["port"] is None or int(simple["port"]) <= 65535 else "port out of range 0-65535"
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises on a bad port
    except ValueError as e:
        return str(e)
    if parts.scheme.lower() not in _DEFAULT_PORT:
        return "not an absolute http(s) URL"
    if not parts.hostname:
        return "no host"
    return None


def normalise_path(path: str) -> str:
    """Collapse duplicate slashes and give every segment one percent-encoding.

    `%2F` stays encoded (it is data, not a separator); `%2D` and `-` become the same.
    """
    if _NORMAL_PATH.fullmatch(path) and path:
        return path
    path = _SLASHES.sub("/", path or "/")
    return "/".join(quote(unquote(seg), safe=_PATH_SAFE) for seg in path.split("/"))


def normalise_query(query: str) -> tuple[tuple[str, str], ...]:
    """The query as a sorted multiset of decoded pairs: `$top=5&a=1` equals `a=1&%24top=5`."""
    return tuple(sorted(parse_qsl(query, keep_blank_values=True)))


def header_value(headers, name: str) -> str:
    """The first value of a header, by case-insensitive name; "" when absent."""
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return ""


# What the closest-recording search compares of a JSON body: its first leaves, no more (a miss
# must cost the same small time whatever the body holds).
MAX_LEAVES = 1_000


@dataclass(frozen=True)
class Body:
    """A body as the body matcher compares it: JSON as data, form fields as a multiset, multipart
    by its parts (core/multipart.py), else bytes. JSON of more values than jsonbody reads is
    "large-json": compared byte for byte, never parsed."""

    kind: str  # "json", "large-json", "form", "multipart" or "bytes"
    value: Any

    @classmethod
    def parse(cls, raw: bytes, content_type: str) -> Body:
        ctype = content_type.lower()
        if "multipart/" in ctype or (not ctype and raw[:2] == b"--"):  # no type: a recorder filtered it
            parts = multipart.parse(raw, content_type)
            if parts is not None:
                return cls("multipart", parts)
        if "x-www-form-urlencoded" in ctype:
            try:
                return cls("form", normalise_query(raw.decode("utf-8")))
            except UnicodeDecodeError:
                pass
        stripped = raw.lstrip()
        if "json" in ctype or stripped[:1] in (b"{", b"["):
            try:
                data = jsonbody.loads(raw)
                return cls("json", json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
            except jsonbody.TooComplex:
                return cls("large-json", raw)
            except (ValueError, RecursionError):  # nested deeper than the JSON reader goes: bytes
                pass
        return cls("bytes", raw)

    def data(self) -> Any:
        """The body as data: a new copy each time (callers may change it)."""
        if self.kind == "multipart":
            return multipart.data(self.value)
        return json.loads(self.value) if self.kind == "json" else self.value

    @cached_property
    def leaves(self) -> Counter:
        """JSON: its first MAX_LEAVES leaves as (path, value as JSON text), for the closest-recording
        search; parsed once per body, however many recordings it is compared with."""
        if self.kind != "json":
            return Counter()
        return Counter((p, json.dumps(v)) for p, v in itertools.islice(_leaves(json.loads(self.value)), MAX_LEAVES))


_EMPTY_BODY = Body("bytes", b"")


class Shape:
    """A request normalised for matching. Built from a live request or a recorded one."""

    __slots__ = ("method", "scheme", "host", "port", "raw_path", "raw_query", "headers", "raw_body", "__dict__")

    def __init__(
        self, method: str, scheme: str, host: str, port: int | None, path: str, query: str, headers, body: bytes
    ):
        self.method = method.upper()
        self.scheme = scheme.lower()
        self.host = host.lower().rstrip(".")
        self.port = port or _DEFAULT_PORT.get(self.scheme, 0)
        self.raw_path = path
        self.raw_query = query
        self.headers = headers
        self.raw_body = body or b""

    @classmethod
    def from_uri(cls, method: str, uri: str, headers, body: bytes) -> Shape:
        simple = _SIMPLE_URI.fullmatch(uri)  # what recordings hold; urlsplit (slower) takes the rest
        if simple and (simple["port"] is None or int(simple["port"]) <= 65535):
            port = simple["port"]
            return cls(
                method,
                simple["scheme"],
                simple["host"],
                int(port) if port else None,
                simple["path"] or "",
                simple["query"] or "",
                headers,
                body,
            )
        parts = urlsplit(uri)
        return cls(method, parts.scheme, parts.hostname or "", parts.port, parts.path, parts.query, headers, body)

    @cached_property
    def path(self) -> str:
        return normalise_path(self.raw_path)

    @cached_property
    def query(self) -> tuple:
        return normalise_query(self.raw_query)

    @cached_property
    def parsed_body(self) -> Body:
        """The body as its Content-Type says, before the token-exchange rule (recordings holding
        the same bytes share it: core/index.py)."""
        if not self.raw_body:
            return _EMPTY_BODY  # whatever the Content-Type says
        return Body.parse(self.raw_body, header_value(self.headers, "content-type"))

    @cached_property
    def body(self) -> Body:
        body = self.parsed_body
        if body.kind == "form" and self.method == "POST" and _TOKEN_PATH.search(self.raw_path):
            # a token exchange matches whoever asks: its credentials compare as absent on both sides
            return Body("form", tuple(p for p in body.value if p[0] not in CREDENTIAL_FIELDS))
        return body

    @cached_property
    def header_map(self) -> dict[str, str]:
        """Headers by lower-case name; repeated ones joined with ", " as HTTP allows."""
        out: dict[str, str] = {}
        for k, v in self.headers:
            k = k.lower()
            out[k] = f"{out[k]}, {v}" if k in out else v
        return out

    @cached_property
    def uri(self) -> tuple:
        return (self.scheme, self.host, self.port, self.path, self.query)

    def display(self) -> str:
        query = ("?" + self.raw_query) if self.raw_query else ""
        return f"{self.method} {self.scheme}://{self.host}{self.path}{query}"


# vcrpy's matcher names. `body` compares as data; `raw_body` compares bytes. `headers` is not part
# of the index key: it makes every header a recording holds a constraint (see header_constraint).
KEY_MATCHERS: dict[str, Callable[[Shape], Any]] = {
    "method": lambda s: s.method,
    "scheme": lambda s: s.scheme,
    "host": lambda s: s.host,
    "port": lambda s: s.port,
    "path": lambda s: s.path,
    "query": lambda s: s.query,
    "body": lambda s: s.body,
    "raw_body": lambda s: s.raw_body,
    "uri": lambda s: s.uri,
}
MATCHERS: dict[str, Callable[[Shape], Any] | None] = {**KEY_MATCHERS, "headers": None}
DEFAULT_MATCH_ON = ("method", "host", "path", "query", "body")


def parse_match_on(spec: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in MATCHERS]
    if unknown or not names:
        raise InputError(
            f"--match-on: unknown matcher {', '.join(map(repr, unknown)) or '(none given)'}",
            hint="choose from " + ", ".join(MATCHERS),
        )
    return tuple(dict.fromkeys(names))


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def parse_match_headers(names) -> tuple[str, ...]:
    """Header names the user made significant (--match-header), lower case."""
    out = []
    for name in names:
        name = name.strip()
        if not _HEADER_NAME.fullmatch(name):
            raise InputError(f"--match-header: {name!r} is not a header name", hint="e.g. --match-header X-Tenant")
        out.append(name.lower())
    return tuple(dict.fromkeys(out))


def key_matchers(match_on: tuple[str, ...]) -> tuple[str, ...]:
    """The matchers that make up the index key (all but `headers`)."""
    return tuple(name for name in match_on if MATCHERS[name] is not None)


def key(shape: Shape, match_on: tuple[str, ...], masked: frozenset = frozenset()) -> tuple:
    """The index key of a request (match_on as key_matchers gives it). `masked` fields (redacted in
    some recording) match any value."""
    if not masked:
        return tuple(KEY_MATCHERS[name](shape) for name in match_on)
    return tuple(_masked_value(name, shape, masked) for name in match_on)


# Headers the `headers` matcher leaves out: they describe the connection or the body's framing, and
# an HTTP/2 client and an HTTP/1 one send the same request with different ones.
_FRAMING_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "upgrade",
        "accept-encoding",
    }
)


def header_constraint(shape: Shape, significant: tuple[str, ...], all_headers: bool) -> tuple:
    """What a recorded request demands of a request's headers: sorted (name, value) pairs.

    `significant` names (lower case) count when the recording holds them; with `all_headers`
    (the `headers` matcher) every header it holds does. A redacted value demands nothing.
    """
    headers = shape.header_map
    if all_headers:
        names = [n for n in headers if n not in _FRAMING_HEADERS]
    else:
        names = [n for n in significant if n in headers]
    return tuple(sorted((n, headers[n]) for n in names if not is_placeholder(headers[n])))


def meets(shape: Shape, constraint: tuple) -> bool:
    headers = shape.header_map
    return all(headers.get(n) == v for n, v in constraint)


def header_differences(shape: Shape, constraint: tuple) -> list[str]:
    """Each header of `constraint` the request does not send alike, in words."""
    headers = shape.header_map
    out = []
    for name, want in constraint:
        got = headers.get(name)
        if got is None:
            out.append(f"header {name} is missing (recorded: {_short(want)})")
        elif got != want:
            g, w = _short_pair(got, want)
            out.append(f"header {name} differs: {g} vs recorded {w}")
    return out


# What a redacted field compares as, on both sides.
_ANY = "\x00redacted"


def placeholder_fields(shape: Shape) -> set:
    """Fields of a recorded request that hold redaction placeholders: ("query"|"form", name) or ("json", path)."""
    out = {("query", k) for k, v in shape.query if is_placeholder(v)}
    body = shape.body
    if body.kind == "form":
        out |= {("form", k) for k, v in body.value if is_placeholder(v)}
    elif body.kind == "json" and redact.might_hold_placeholder(body.value):
        out |= {("json", path) for path, value in _leaves(body.data()) if is_placeholder(value)}
    return out


def _leaves(node, path=()):
    """(path, value) of each scalar in a JSON value; a path is keys and list indices."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, path + (i,))
    else:
        yield path, node


def _masked_pairs(pairs, kind: str, masked) -> tuple:
    return tuple(sorted((k, _ANY if (kind, k) in masked else v) for k, v in pairs))


def _masked_value(name: str, shape: Shape, masked) -> Any:
    """What matcher `name` compares of a request, redacted fields masked; kept on the shape, since a
    miss compares one request with many recordings (and a recording with many misses)."""
    if not masked:
        return KEY_MATCHERS[name](shape)
    cache = shape.__dict__.setdefault("masked_values", {})
    key = (name, masked)
    if key not in cache:
        cache[key] = _mask(name, shape, masked)
    return cache[key]


def _mask(name: str, shape: Shape, masked) -> Any:
    if name == "query":
        return _masked_pairs(shape.query, "query", masked)
    if name == "uri":
        return shape.uri[:4] + (_masked_pairs(shape.query, "query", masked),)
    if name == "body":
        body = shape.body
        if body.kind == "form":
            return Body("form", _masked_pairs(body.value, "form", masked))
        if body.kind == "json":
            data = body.data()
            for kind, path in masked:
                if kind == "json":
                    _set_path(data, path)
            return Body("json", json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    return KEY_MATCHERS[name](shape)


def _set_path(node, path) -> None:
    for step in path[:-1]:
        try:
            node = node[step]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, (dict, list)):
        try:
            if path[-1] in node if isinstance(node, dict) else path[-1] < len(node):
                node[path[-1]] = _ANY
        except TypeError:
            return


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_pair(got: str, want: str, limit: int = 60) -> tuple[str, str]:
    """Both values, shortened around where they first differ (two long links share a long start)."""
    if len(repr(got)) <= limit and len(repr(want)) <= limit:
        return repr(got), repr(want)
    start = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), min(len(got), len(want)))
    cut = max(0, start - 12)
    prefix = "..." if cut else ""
    return _short(prefix + got[cut:], limit), _short(prefix + want[cut:], limit)


def json_diffs(got: Any, want: Any, where: str):
    """Differences between two JSON values, each as 'body.a.b differs: got vs recorded'."""
    if isinstance(got, dict) and isinstance(want, dict):
        for k in sorted(set(got) | set(want), key=str):
            if k not in want:
                yield f"{where}.{k} is not in the recording"
            elif k not in got:
                yield f"{where}.{k} is missing (recorded: {_short(want[k])})"
            else:
                yield from json_diffs(got[k], want[k], f"{where}.{k}")
    elif isinstance(got, list) and isinstance(want, list):
        for i, (g, w) in enumerate(zip(got, want, strict=False)):  # a length difference is said below
            yield from json_diffs(g, w, f"{where}[{i}]")
        if len(got) != len(want):
            yield f"{where} has {len(got)} items, recorded {len(want)}"
    elif got != want or type(got) is not type(want):
        yield f"{where} differs: {_short(got)} vs {_short(want)}"


def _multiset_diff(got: tuple, want: tuple, what: str, skip=frozenset()) -> str:
    """Up to three fields that differ; `skip` names fields a recording redacted (they match anything)."""
    got_d: dict[str, list[str]] = {}
    want_d: dict[str, list[str]] = {}
    for k, v in got:
        got_d.setdefault(k, []).append(v)
    for k, v in want:
        want_d.setdefault(k, []).append(v)
    diffs = []
    for k in sorted(set(got_d) | set(want_d)):
        if k in skip and k in got_d and k in want_d:
            continue
        if k not in want_d:
            diffs.append(f"{what} {k} is not in the recording")
        elif k not in got_d:
            diffs.append(f"{what} {k} is missing (recorded: {_short(want_d[k][0])})")
        elif got_d[k] != want_d[k]:
            g, w = got_d[k], want_d[k]
            diffs.append(
                f"{what} {k} differs: {_short(g[0] if len(g) == 1 else g)} vs {_short(w[0] if len(w) == 1 else w)}"
            )
    if not diffs:
        return f"{what} differs"
    return "; ".join(diffs[:3]) + (" (and more)" if len(diffs) > 3 else "")


def explain(got: Shape, want: Shape, name: str, masked: frozenset = frozenset()) -> str:
    """Why matcher `name` tells these two apart, in the words a user needs to fix it."""
    if name == "body":
        g, w = got.body, want.body
        if g.kind == w.kind == "json":
            gd, wd = g.data(), w.data()
            for kind, path in masked:
                if kind == "json":
                    _set_path(gd, path)
                    _set_path(wd, path)
            diffs = list(itertools.islice(json_diffs(gd, wd, "body"), 4))
            more = " (and more)" if len(diffs) > 3 else ""
            return "; ".join(diffs[:3]) + more if diffs else "body differs"
        if g.kind == w.kind == "form":
            return _multiset_diff(g.value, w.value, "body field", {k for kind, k in masked if kind == "form"})
        if g.kind == w.kind == "multipart":
            parts = multipart.diffs(g.value, w.value)
            return "; ".join(parts[:3]) + (" (and more)" if len(parts) > 3 else "") if parts else "body differs"
        if "large-json" in (g.kind, w.kind):
            side = "the request's" if g.kind == "large-json" else "the recorded"
            return (
                f"body differs ({len(got.raw_body)} bytes vs recorded {len(want.raw_body)} bytes; {side} JSON holds "
                f"more than the {jsonbody.MAX_VALUES:,} values tapeproxy parses, so it is compared byte for byte)"
            )
        if g.kind != w.kind:
            return f"body differs: {g.kind} vs recorded {w.kind}"
        return f"body differs ({len(got.raw_body)} bytes vs recorded {len(want.raw_body)} bytes)"
    if name == "raw_body":
        return f"raw body differs ({len(got.raw_body)} bytes vs recorded {len(want.raw_body)} bytes)"
    if name == "query":
        return _multiset_diff(got.query, want.query, "query", {k for kind, k in masked if kind == "query"})
    if name == "uri":
        for part in ("scheme", "host", "port", "path", "query"):
            if KEY_MATCHERS[part](got) != KEY_MATCHERS[part](want):
                return explain(got, want, part, masked)
    return f"{name} differs: {_short(KEY_MATCHERS[name](got))} vs {_short(KEY_MATCHERS[name](want))}"


# The order in which agreement counts when choosing the closest recording: a recording of the same
# host and path (segment by segment) is closer than one of the same method, which is closer than one
# with the same query or body fields.
_RANK = ("host", "scheme", "port", "path", "uri", "method", "query", "body", "raw_body")


def closeness(
    got: Shape, want: Shape, match_on: tuple[str, ...], masked: frozenset = frozenset(), constraint: tuple = ()
) -> tuple[tuple, list[str]]:
    """A rank (higher is closer; compare as tuples) and the matchers that differ.

    Each matcher scores its agreement from 0 to 1 (path: the share of segments alike, position by
    position; query and body: the share of fields alike), ranked in _RANK's order; the headers a
    recording demands come last.
    """
    scores = dict.fromkeys(_RANK, 0.0)
    differs = []
    for name in match_on:
        if MATCHERS[name] is None:
            continue
        if _masked_value(name, got, masked) == _masked_value(name, want, masked):
            scores[name] = 1.0
            continue
        differs.append(name)
        if name in ("path", "uri"):
            scores[name] = _common_segments(got.path, want.path)
        elif name == "query":
            scores[name] = _pair_share(
                _masked_pairs(got.query, "query", masked), _masked_pairs(want.query, "query", masked)
            )
        elif name == "body":
            scores[name] = _body_share(_masked_value(name, got, masked), _masked_value(name, want, masked))
    headers_met = sum(1 for n, v in constraint if got.header_map.get(n) == v)
    if headers_met < len(constraint):
        differs.append("headers")
    return (*(scores[n] for n in _RANK), headers_met - len(constraint)), differs


def _common_segments(a: str, b: str) -> float:
    sa, sb = a.split("/"), b.split("/")
    same = sum(1 for x, y in zip(sa, sb, strict=False) if x == y)
    return same / max(len(sa), len(sb))


def _pair_share(got, want) -> float:
    """The share of (name, value) pairs two multisets have in common."""
    return _counter_share(Counter(got), Counter(want))


def _counter_share(got: Counter, want: Counter) -> float:
    larger = max(got.total(), want.total())
    return (got & want).total() / larger if larger else 1.0


def _body_share(got: Body, want: Body) -> float:
    if got.kind != want.kind:
        return 0.0
    if got.kind == "form":
        return _pair_share(got.value, want.value)
    if got.kind == "multipart":
        return multipart.share(got.value, want.value)
    if got.kind == "json":  # leaves as JSON text: 1 and true differ, and lists become hashable
        return _counter_share(got.leaves, want.leaves)
    return 0.0
