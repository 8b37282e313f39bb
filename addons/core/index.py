"""The replay index: recorded interactions grouped by match key, served in order.

Lookup is one dict access; only a miss scans, to name the closest recording.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from . import matching, redact
from .cassette import Interaction
from .matching import Shape
from .profiles import profile_for

# What explaining one miss may cost: this many recordings compared, or this many seconds, whichever
# comes first (the proxy has one event loop; a miss must not stall the other clients).
MISS_CANDIDATES = 2_000
MISS_BUDGET = 0.02
# Live requests' keys remembered by their raw parts: normalising the path, query and body is most
# of what a hit costs, and apps send the same requests again and again. Bounded both ways.
KEY_MEMO = 4096
KEY_MEMO_BODY = 4096  # bytes: a larger body is keyed afresh each time, never kept


def _prefix(path: str) -> str:
    """The first two segments of a path (/2.0/tasks, /v1.0/print): its API area."""
    return "/".join(path.split("/", 3)[:3])


@dataclass(frozen=True, slots=True)
class Hit:
    interaction: Interaction
    nth: int  # 1-based: the nth response of its sequence
    of: int  # how many recordings the sequence holds
    repeated: bool  # sequence exhausted, last one served again


@dataclass(frozen=True, slots=True)
class NoMatch:
    message: str
    closest: Interaction | None
    differences: tuple[str, ...]


def redact_prefix_in(interactions) -> bool:
    """Whether any request may hold a redacted value (a quick test before looking closely)."""
    return any(
        redact.might_hold_placeholder(i.request.uri) or redact.might_hold_placeholder(i.request.body)
        for i in interactions
    )


def recorded_shape(interaction: Interaction) -> Shape:
    req = interaction.request
    return Shape.from_uri(req.method, req.uri, req.headers, req.body)


def _share_bodies(shapes: list[Shape]) -> None:
    """Recordings that hold one body (a body file named by many interactions: the same bytes
    object) share its parsed form too, instead of each holding a copy of its canonical JSON."""
    parsed: dict[tuple[int, str], matching.Body] = {}
    for shape in shapes:
        if len(shape.raw_body) < 4096:  # small bodies cost little; the key would cost as much
            continue
        key = (id(shape.raw_body), matching.header_value(shape.headers, "content-type"))
        if key in parsed:
            shape.__dict__["parsed_body"] = parsed[key]  # what the cached property would have computed
        else:
            parsed[key] = shape.parsed_body


class _Variants:
    """Recordings of one key that demand headers: (constraint, positions), most demanding first.

    A request is served from the first variant whose headers it sends alike; recordings that hold
    none of the headers are the last variant and serve any request of the key.
    """

    __slots__ = ("variants",)

    def __init__(self, variants: list[tuple[tuple, list[int]]]):
        self.variants = sorted(variants, key=lambda v: -len(v[0]))  # stable: recording order otherwise

    def pick(self, shape: Shape) -> tuple[tuple, list[int]] | None:
        for constraint, positions in self.variants:
            if matching.meets(shape, constraint):
                return constraint, positions
        return None


class ReplayIndex:
    def __init__(
        self,
        interactions: Iterable[Interaction],
        match_on=matching.DEFAULT_MATCH_ON,
        repeat_last: bool = True,
        match_headers: tuple[str, ...] = (),
    ):
        """match_headers: header names (lower case) significant for every host, besides each API's own."""
        self.match_on = tuple(match_on)
        self.match_headers = tuple(match_headers)
        self._key_on = matching.key_matchers(self.match_on)
        self.repeat_last = repeat_last
        self.interactions: list[Interaction] = list(interactions)
        self._shapes: list[Shape] = [recorded_shape(i) for i in self.interactions]
        _share_bodies(self._shapes)
        # Fields a recording redacted match any value, in every request (an empty set costs nothing).
        masked: set = set()
        if redact_prefix_in(self.interactions):
            for shape in self._shapes:
                masked |= matching.placeholder_fields(shape)
        self.masked = frozenset(masked)
        all_headers = "headers" in self.match_on
        self._constraints: list[tuple] = [
            matching.header_constraint(
                shape, profile_for(shape.host).SIGNIFICANT_HEADERS + self.match_headers, all_headers
            )
            for shape in self._shapes
        ]
        groups: dict[tuple, dict[tuple, list[int]]] = {}
        for pos, shape in enumerate(self._shapes):
            groups.setdefault(self.key(shape), {}).setdefault(self._constraints[pos], []).append(pos)
        # A key whose recordings demand no header is a plain list of positions: the common, fast case.
        self._sequences: dict[tuple, list[int] | _Variants] = {
            k: (v[()] if len(v) == 1 and () in v else _Variants(list(v.items()))) for k, v in groups.items()
        }
        self._served: dict[tuple, int] = {}
        self._request_keys: dict[tuple, tuple] = {}
        self.hosts = frozenset(shape.host for shape in self._shapes)

    @cached_property
    def _near(self) -> dict[tuple, list[int]]:
        """Where a miss looks for the closest recording: positions by (host, method, path prefix),
        (host, prefix) and (host,). Built at the first miss: start-up and hits never pay for it."""
        near: dict[tuple, list[int]] = {}
        for pos, shape in enumerate(self._shapes):
            prefix = _prefix(shape.path)
            for key in ((shape.host, shape.method, prefix), (shape.host, prefix), (shape.host,)):
                near.setdefault(key, []).append(pos)
        return near

    def __len__(self) -> int:
        return len(self.interactions)

    def reset(self) -> None:
        """Start every sequence again from its first recording."""
        self._served.clear()

    def key(self, shape: Shape) -> tuple:
        return matching.key(shape, self._key_on, self.masked)

    def request_key(self, shape: Shape) -> tuple:
        """key() of a live request, remembered (KEY_MEMO)."""
        body = shape.raw_body
        if len(body) > KEY_MEMO_BODY:
            return self.key(shape)
        content_type = matching.header_value(shape.headers, "content-type") if body else ""
        raw = (shape.method, shape.scheme, shape.host, shape.port, shape.raw_path, shape.raw_query, body, content_type)
        k = self._request_keys.get(raw)
        if k is None:
            if len(self._request_keys) >= KEY_MEMO:
                self._request_keys.clear()
            k = self._request_keys[raw] = self.key(shape)
        return k

    def lookup(self, shape: Shape) -> Hit | NoMatch:
        k = self.request_key(shape)
        sequence = self._sequences.get(k)
        if sequence is None:
            return self._miss(shape)
        if isinstance(sequence, _Variants):
            picked = sequence.pick(shape)
            if picked is None:
                return self._miss(shape)
            k, sequence = (k, picked[0]), picked[1]
        served = self._served.get(k, 0)
        if served >= len(sequence) and not self.repeat_last:
            labels = ", ".join(f"#{self.interactions[p].number}" for p in sequence)
            first = self.interactions[sequence[0]]
            return NoMatch(
                f"all {len(sequence)} recorded responses for {shape.display()} were already served "
                f"({first.source} {labels}); replay is set not to repeat the last one",
                self.interactions[sequence[-1]],
                ("sequence exhausted",),
            )
        self._served[k] = served + 1
        n = min(served, len(sequence) - 1)
        return Hit(self.interactions[sequence[n]], n + 1, len(sequence), served >= len(sequence))

    def _candidates(self, shape: Shape):
        """Recordings to compare a missed request with: of its host and API area (its method's
        first), else of its host, else any."""
        prefix = _prefix(shape.path)
        area = self._near.get((shape.host, prefix))
        if area:
            same_method = self._near.get((shape.host, shape.method, prefix), [])
            yield from same_method
            chosen = set(same_method)
            yield from (pos for pos in area if pos not in chosen)
        else:
            yield from self._near.get((shape.host,)) or range(len(self._shapes))

    def _miss(self, shape: Shape) -> NoMatch:
        prefix = f"no recorded interaction matches {shape.display()}"
        if not self.interactions:
            return NoMatch(prefix + "; the cassettes hold no interactions", None, ())
        best_pos, best_rank, best_differs = -1, None, []
        searched, deadline = 0, time.perf_counter() + MISS_BUDGET
        for pos in self._candidates(shape):
            rank, differs = matching.closeness(
                shape, self._shapes[pos], self.match_on, self.masked, self._constraints[pos]
            )
            if best_rank is None or rank > best_rank:
                best_pos, best_rank, best_differs = pos, rank, differs
            searched += 1
            if searched >= MISS_CANDIDATES or time.perf_counter() > deadline:
                break  # one client's misses must not stall the others: the nearest found so far
        closest = self.interactions[best_pos]
        want = self._shapes[best_pos]
        reasons: list[str] = []
        for name in best_differs:
            if name == "headers":
                reasons += matching.header_differences(shape, self._constraints[best_pos])
            else:
                reasons.append(matching.explain(shape, want, name, self.masked))
        path = want.path if len(want.path) <= 48 else "..." + want.path[-45:]
        return NoMatch(
            f"{prefix}; closest: {want.method} {path} ({closest.label}), " + "; ".join(reasons), closest, tuple(reasons)
        )
