"""Scenario rules at run time: which rule fires for a request, and with which step.

Pure and clock-injected, so triggers are testable without a proxy. Rules are ordered by priority,
then by scenario and position; the first whose match fits and whose triggers fire wins. A rule that
matches but does not fire lets the request fall through to the next rule (and, if none fires, to
the next layer: simulation, cassettes or upstream).

Randomness is per rule, seeded from the scenario's seed and the rule's position, so the same seed
gives the same failures run after run, whatever other rules see.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from .matching import Shape
from .scenario import INITIAL_STATE, Delay, Rule, Scenario, Step

# Per rule, the counters of at most this many keys (endpoints, paths, tokens, clients) are kept: a
# client walking unique paths must not grow the proxy without end. The least recently seen key goes
# first, and starts from zero if it comes back.
MAX_KEYS = 10_000


@dataclass(frozen=True)
class Decision:
    rule: Rule
    step: Step
    params: dict[str, str]
    nth: int  # this rule's nth firing for the key
    delay: float = 0.0  # seconds to wait before the step
    retry_after: float | None = None  # from a rate limit's bucket
    rate_limit: tuple[int, int, float] | None = None  # (limit, remaining, reset seconds)
    also: tuple[Rule, ...] = ()  # latency-only rules that fired too


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float, at: float):
        self.tokens = tokens
        self.at = at


class _KeyState:
    """A rule's counters for one key."""

    __slots__ = ("matches", "fires", "bucket")

    def __init__(self) -> None:
        self.matches = self.fires = 0
        self.bucket: _Bucket | None = None


class _RuleState:
    def __init__(self, rule: Rule, seed):
        self.rule = rule
        self.keys: OrderedDict[str, _KeyState] = OrderedDict()  # least recently seen first
        self.matched = self.fired = 0  # over every key, for the status
        digest = hashlib.sha256(f"{seed}:{rule.scenario}:{rule.number}".encode()).digest()
        self.rng = random.Random(int.from_bytes(digest[:8], "big"))
        # a bare delay: it slows a request down and lets the other rules decide what happens to it
        self.latency_only = all(s.kind == "pass" and s.delay is not None and not s.explicit_pass for s in rule.steps)

    def at(self, key: str) -> _KeyState:
        state = self.keys.get(key)
        if state is None:
            state = self.keys[key] = _KeyState()
            if len(self.keys) > MAX_KEYS:
                self.keys.popitem(last=False)
        elif len(self.keys) > 1:
            self.keys.move_to_end(key)
        return state


class _ScenarioState:
    def __init__(self, scenario: Scenario, now: float):
        self.scenario = scenario
        self.started = now
        self.state = INITIAL_STATE


def _same(a: Scenario, b: Scenario) -> bool:
    return a is b or (a.name == b.name and a.path == b.path and bool(a.digest) and a.digest == b.digest)


def _matches_subset(want, got) -> bool:
    """JSON subset: every key of want is in got with a matching value; lists compare whole."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and _matches_subset(v, got[k]) for k, v in want.items())
    if isinstance(want, (int, float)) and not isinstance(want, bool) and isinstance(got, (int, float)):
        return want == got and not isinstance(got, bool)
    return want == got


def key_for(per: str, shape: Shape, client: str) -> str:
    if per == "host":
        return shape.host
    if per == "endpoint":
        return f"{shape.method} {shape.host}{shape.path}"
    if per == "path":
        return f"{shape.host}{shape.path}"
    if per == "token":
        return next((v for k, v in shape.headers if k.lower() == "authorization"), "")
    if per == "client":
        return client
    return ""


class ScenarioEngine:
    def __init__(self, scenarios: Iterable[Scenario] = (), clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.scenarios: list[_ScenarioState] = []
        self._rules: list[tuple[_ScenarioState, _RuleState]] = []
        self._candidates: dict[tuple[str, str], _ByPath] = {}
        self.set(list(scenarios))

    # -- the active set -------------------------------------------------------------------------
    def set(self, scenarios: list[Scenario]) -> None:
        """Make exactly these scenarios active; ones already active keep their counters and state."""
        now = self.clock()
        kept = {s.scenario.name: s for s in self.scenarios}
        self.scenarios = [
            kept[s.name] if s.name in kept and _same(kept[s.name].scenario, s) else _ScenarioState(s, now)
            for s in scenarios
        ]
        old_rules = {(id(st), rs.rule.number): rs for st, rs in self._rules}
        rules = []
        for order, st in enumerate(self.scenarios):
            for rule in st.scenario.rules:
                rs = old_rules.get((id(st), rule.number)) or _RuleState(rule, st.scenario.seed)
                rules.append((-rule.priority, order, rule.number, st, rs))
        rules.sort(key=lambda r: r[:3])
        self._rules = [(st, rs) for *_, st, rs in rules]
        self._candidates.clear()

    @property
    def names(self) -> list[str]:
        return [s.scenario.name for s in self.scenarios]

    def reset(self) -> None:
        """Every counter, sequence, bucket, state and time window starts again."""
        scenarios = [s.scenario for s in self.scenarios]
        self.set([])
        self.set(scenarios)

    def describe(self) -> list[dict]:
        out = []
        for st in self.scenarios:
            rules = [rs for s, rs in self._rules if s is st]
            out.append(
                {
                    "name": st.scenario.name,
                    "description": st.scenario.description,
                    "state": st.state,
                    "path": st.scenario.path,
                    "rules": [
                        {"rule": rs.rule.number, "name": rs.rule.name, "matched": rs.matched, "fired": rs.fired}
                        for rs in sorted(rules, key=lambda r: r.rule.number)
                    ],
                }
            )
        return out

    # -- deciding -------------------------------------------------------------------------------
    def _candidates_for(self, host: str, method: str, path: str):
        k = (host, method)
        found = self._candidates.get(k)
        if found is None:
            found = self._candidates[k] = _ByPath(
                [
                    (st, rs)
                    for st, rs in self._rules
                    if (rs.rule.match.hosts is None or host in rs.rule.match.hosts)
                    and (rs.rule.match.methods is None or method in rs.rule.match.methods)
                ]
            )
        return found.rules_for(path)

    def decide(self, shape: Shape, client: str = "") -> Decision | None:
        """The step for this request, or None. Latency-only rules (a bare delay) all apply, wherever
        they stand; of the others, the first that fires wins."""
        if not self._rules:
            return None
        now = self.clock()
        winner: Decision | None = None
        latency: list[Decision] = []
        for st, rs in self._candidates_for(shape.host, shape.method, shape.path):
            if winner is not None and not rs.latency_only:
                continue
            d = self._fire(st, rs, shape, client, now)
            if d is None:
                continue
            if rs.latency_only:
                latency.append(d)
            else:
                winner = d
        if not latency:
            return winner
        base = winner or latency[0]
        return replace(
            base,
            delay=base.delay + sum(d.delay for d in latency if d is not base),
            also=tuple(d.rule for d in latency if d is not base),
        )

    def _fire(self, st: _ScenarioState, rs: _RuleState, shape: Shape, client: str, now: float) -> Decision | None:
        rule = rs.rule
        params = self._fits(rule, shape)
        if params is None:
            return None
        if rule.state and st.state != rule.state:
            return None
        if rule.window and not rule.window[0] <= now - st.started < rule.window[1]:
            return None
        counts = rs.at(key_for(rule.per, shape, client))
        counts.matches += 1
        rs.matched += 1
        n = counts.matches
        if n <= rule.after:
            return None
        if rule.every and (n - rule.after) % rule.every:
            return None
        fired = counts.fires
        if rule.times is not None and fired >= rule.times:
            return None
        if rule.probability is not None and rs.rng.random() >= rule.probability:
            return None
        retry_after, limit = None, None
        if rule.rate_limit:
            within, retry_after, limit = self._take(rs.rule, counts, now)
            if within:  # under the rate limit: the request passes, the rule does not fire
                return None
        counts.fires = fired + 1
        rs.fired += 1
        if rule.set_state:
            st.state = rule.set_state
        steps = rule.steps
        step = steps[fired % len(steps) if rule.loop else min(fired, len(steps) - 1)]
        return Decision(rule, step, params, fired + 1, _delay(step.delay, rs.rng), retry_after, limit)

    @staticmethod
    def _fits(rule: Rule, shape: Shape) -> dict[str, str] | None:
        m = rule.match
        params: dict[str, str] = {}
        if m.path is not None:
            found = m.path.match(shape.path)
            if found is None:
                return None
            params = found
        if m.query:
            have = set(shape.query)
            if not all(pair in have for pair in m.query):
                return None
        if m.headers:
            have_h = {(k.lower(), v) for k, v in shape.headers}
            if not all(pair in have_h for pair in m.headers):
                return None
        if m.body is not None:
            if shape.body.kind not in ("json", "multipart"):  # multipart: its parts by name
                return None
            try:
                if not _matches_subset(m.body, shape.body.data()):
                    return None
            except (ValueError, json.JSONDecodeError):
                return None
        return params

    @staticmethod
    def _take(rule: Rule, counts: _KeyState, now: float) -> tuple[bool, float | None, tuple[int, int, float]]:
        """Token bucket: (allowed, retry_after, (limit, remaining, reset))."""
        limit = rule.rate_limit
        assert limit is not None  # only rules with a rate limit are taken from
        rate = limit.requests / limit.per
        b = counts.bucket
        if b is None:
            b = counts.bucket = _Bucket(float(limit.requests), now)
        b.tokens = min(limit.requests, b.tokens + (now - b.at) * rate)
        b.at = now
        if b.tokens >= 1:
            b.tokens -= 1
            return True, None, (limit.requests, int(b.tokens), (limit.requests - b.tokens) / rate)
        wait = (1 - b.tokens) / rate
        return False, wait, (limit.requests, 0, math.ceil(wait))


class _ByPath:
    """One host and method's rules, found by the literal start of their path templates, in rule order.

    A request looks at the rules whose literal start its path begins with, so a hundred rules for
    other paths cost a few dict lookups, not a hundred regex matches.
    """

    def __init__(self, rules: list):
        self._by_prefix: dict[tuple[str, ...], list[tuple[int, object]]] = {}
        for order, (st, rs) in enumerate(rules):
            path = rs.rule.match.path
            prefix = path.literal_prefix if path is not None else ()
            self._by_prefix.setdefault(prefix, []).append((order, (st, rs)))
        self._depth = max((len(p) for p in self._by_prefix), default=0)
        self._root = [r for _, r in self._by_prefix.get((), [])]

    def rules_for(self, path: str) -> list:
        if self._depth == 0:
            return self._root
        segments = tuple(path.split("/")[1 : self._depth + 1])
        groups = [g for n in range(1, len(segments) + 1) if (g := self._by_prefix.get(segments[:n]))]
        if not groups:
            return self._root
        merged = [*self._by_prefix.get((), []), *(r for g in groups for r in g)]
        merged.sort(key=lambda pair: pair[0])
        return [r for _, r in merged]


def _delay(d: Delay | None, rng: random.Random) -> float:
    if d is None:
        return 0.0
    if d.kind == "fixed":
        return d.seconds
    if d.kind == "uniform":
        return rng.uniform(d.seconds, d.upto)
    return d.seconds * math.exp(rng.gauss(0, d.sigma))  # lognormal with that median
