"""Scenario files: rules of match, trigger and action, validated into an immutable model.

```yaml
name: box-throttled
description: Box answers every third task update with 429, then recovers.
seed: 7
rules:
  - match: {host: api.box.com, method: PUT, path: /2.0/tasks/{task_id}}
    every: 3
    error: throttled
    retry_after: 2
```
Every mistake is an InputError naming the file, the line and what would be right.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamlfile
from .errors import InputError
from .paths import PathTemplate
from .profiles import ERROR_NAMES, error_name
from .templates import Template, TemplateError, compile_json

FAULTS = ("reset", "close", "truncate", "stall")
PER = ("global", "host", "endpoint", "path", "token", "client")
STEP_KEYS = {"respond", "error", "retry_after", "message", "headers", "fault", "stall_for", "pass", "delay"}
RULE_KEYS = {
    "name",
    "match",
    "priority",
    "probability",
    "every",
    "after",
    "times",
    "per",
    "window",
    "state",
    "set_state",
    "sequence",
    "loop",
    "rate_limit",
} | STEP_KEYS
MATCH_KEYS = {"host", "method", "path", "query", "headers", "body"}
RESPOND_KEYS = {"status", "reason", "headers", "json", "text", "file"}
SCENARIO_KEYS = {"name", "description", "seed", "rules"}
INITIAL_STATE = "started"  # WireMock's "Started"


@dataclass(frozen=True)
class Match:
    hosts: frozenset[str] | None = None
    methods: frozenset[str] | None = None
    path: PathTemplate | None = None
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # names lower-case
    body: Any = None  # a JSON subset, or None for any body


@dataclass(frozen=True)
class Delay:
    """fixed: `seconds`; uniform: from `seconds` to `upto`; lognormal: median `seconds`, spread `sigma`."""

    kind: str  # fixed, uniform, lognormal
    seconds: float
    upto: float = 0.0
    sigma: float = 0.0


@dataclass(frozen=True)
class Respond:
    status: int
    reason: str
    headers: tuple[tuple[str, Template | str], ...]
    json: Any = None
    text: Template | str | None = None
    data: bytes | None = None  # from a file
    is_json: bool = False


@dataclass(frozen=True)
class Step:
    """One action: respond, error, fault or pass, maybe after a delay."""

    kind: str
    respond: Respond | None = None
    error: str | None = None
    retry_after: float | None = None
    message: Template | str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    fault: str | None = None
    stall_for: float = 300.0
    delay: Delay | None = None
    explicit_pass: bool = False  # `pass: true` ends rule evaluation; a bare delay does not


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per: float  # seconds to refill `requests` tokens


@dataclass(frozen=True)
class Rule:
    scenario: str
    number: int  # 1-based position in its file
    line: int | None
    name: str
    match: Match
    steps: tuple[Step, ...]
    priority: int = 0
    probability: float | None = None
    every: int | None = None
    after: int = 0
    times: int | None = None
    per: str = "global"
    window: tuple[float, float] | None = None  # seconds since the scenario started
    state: str | None = None
    set_state: str | None = None
    loop: bool = False
    rate_limit: RateLimit | None = None

    @property
    def label(self) -> str:
        return f"scenario {self.scenario} rule {self.number}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    seed: int | str | None
    rules: tuple[Rule, ...]
    path: str = ""
    states: frozenset[str] = field(default_factory=frozenset)
    digest: str = ""  # of the file's text: the same scenario, reloaded, keeps its counters


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: Any) -> float:
    """Seconds from 1.5, "1.5s", "500ms", "2m"."""
    if isinstance(value, bool):
        raise ValueError("expected a duration")
    if isinstance(value, (int, float)) and value >= 0:
        return float(value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    raise ValueError(f"{value!r} is not a duration; write seconds (1.5) or 500ms, 2s, 1m")


class _Checker(yamlfile.Checker):
    def integer(self, value: Any, keys: tuple, what: str, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(keys, f"{what} must be an integer >= {minimum}, got {value!r}")
        return value

    def string(self, value: Any, keys: tuple, what: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(keys, f"{what} must be a non-empty string, got {yamlfile.kind(value)}")
        return value

    def duration(self, value: Any, keys: tuple) -> float:
        try:
            return parse_duration(value)
        except ValueError as e:
            raise self.fail(keys, str(e)) from None

    def template(self, value: Any, keys: tuple, params: frozenset[str]):
        try:
            return compile_json(value, params)
        except TemplateError as e:
            raise self.fail(keys, f"bad template: {e}") from None

    def string_pairs(self, value: Any, keys: tuple, what: str, lower: bool = False) -> tuple[tuple[str, str], ...]:
        value = self.mapping(value, keys, what)
        out = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) or v is None:
                raise self.fail(keys + (k,), f"{what} {k!r} must be a string or number, got {yamlfile.kind(v)}")
            out.append((str(k).lower() if lower else str(k), _scalar(v)))
        return tuple(out)


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _names(value: Any, check: _Checker, keys: tuple, what: str, upper: bool = False) -> frozenset[str] | None:
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    out = set()
    for i, item in enumerate(items):
        item = check.string(item, keys + ((i,) if isinstance(value, list) else ()), what)
        out.add(item.upper() if upper else item.lower().rstrip("."))
    return frozenset(out)


def _match(raw: Any, check: _Checker, keys: tuple) -> Match:
    if raw is None:
        return Match()
    raw = check.mapping(raw, keys, "match")
    check.keys(raw, MATCH_KEYS, keys, "match")
    path = None
    if "path" in raw:
        try:
            path = PathTemplate(check.string(raw["path"], keys + ("path",), "match.path"))
        except ValueError as e:
            raise check.fail(
                keys + ("path",), str(e), "e.g. /v1.0/print/taskDefinitions/{def}/tasks/{task} or /2.0/**"
            ) from None
    return Match(
        hosts=_names(raw.get("host"), check, keys + ("host",), "match.host"),
        methods=_names(raw.get("method"), check, keys + ("method",), "match.method", upper=True),
        path=path,
        query=check.string_pairs(raw["query"], keys + ("query",), "match.query") if "query" in raw else (),
        headers=check.string_pairs(raw["headers"], keys + ("headers",), "match.headers", lower=True)
        if "headers" in raw
        else (),
        body=raw.get("body"),
    )


def _delay(raw: Any, check: _Checker, keys: tuple) -> Delay:
    if isinstance(raw, dict):
        if len(raw) != 1 or next(iter(raw)) not in ("uniform", "lognormal"):
            raise check.fail(keys, "delay must be a duration, {uniform: [MIN, MAX]} or {lognormal: {median, sigma}}")
        kind, spec = next(iter(raw.items()))
        if kind == "uniform":
            if not isinstance(spec, list) or len(spec) != 2:
                raise check.fail(keys + (kind,), "uniform takes [MIN, MAX], e.g. [100ms, 2s]")
            lo, hi = (check.duration(v, keys + (kind, i)) for i, v in enumerate(spec))
            if hi < lo:
                raise check.fail(keys + (kind,), "uniform: MAX is below MIN")
            return Delay("uniform", lo, upto=hi)
        spec = check.mapping(spec, keys + (kind,), "lognormal")
        check.keys(spec, {"median", "sigma"}, keys + (kind,), "lognormal")
        if "median" not in spec:
            raise check.fail(keys + (kind,), "lognormal needs median (a duration) and sigma (default 0.5)")
        sigma = spec.get("sigma", 0.5)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or sigma < 0:
            raise check.fail(keys + (kind, "sigma"), f"sigma must be a number >= 0, got {sigma!r}")
        return Delay("lognormal", check.duration(spec["median"], keys + (kind, "median")), sigma=float(sigma))
    return Delay("fixed", check.duration(raw, keys))


# A body file is read whole when the scenario loads: bounded, so a huge or endless file is refused.
MAX_BODY_FILE = 64 << 20


def _respond(raw: Any, check: _Checker, keys: tuple, params: frozenset[str], base: Path | None) -> Respond:
    raw = check.mapping(raw, keys, "respond")
    check.keys(raw, RESPOND_KEYS, keys, "respond")
    bodies = [k for k in ("json", "text", "file") if k in raw]
    if len(bodies) > 1:
        raise check.fail(keys, f"respond takes one of json, text or file, got {', '.join(bodies)}")
    status = raw.get("status", 200)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise check.fail(keys + ("status",), f"status must be an integer 100-599, got {status!r}")
    headers = check.string_pairs(raw.get("headers") or {}, keys + ("headers",), "header")
    headers = tuple((k, check.template(v, keys + ("headers", k), params)) for k, v in headers)
    data = None
    if "file" in raw:
        name = check.string(raw["file"], keys + ("file",), "respond.file")
        if base is None:  # posted inline: no folder of its own, and the proxy's is not the poster's to read
            raise check.fail(
                keys + ("file",),
                "respond.file is not allowed in a scenario posted as YAML text",
                "put the scenario and its body file in a --scenario-dir folder and load it by path",
            )
        target = (base / name).resolve()
        if base.resolve() not in target.parents:
            raise check.fail(
                keys + ("file",),
                f"file {name!r} is outside the scenario's folder",
                "body files live next to the scenario file or below it",
            )
        if not target.is_file():  # a regular file: not a FIFO, not a device
            raise check.fail(keys + ("file",), f"file {name!r} not found (looked in {base})")
        if target.stat().st_size > MAX_BODY_FILE:
            raise check.fail(keys + ("file",), f"file {name!r} is larger than {MAX_BODY_FILE >> 20} MiB")
        data = target.read_bytes()
    text = check.template(raw["text"], keys + ("text",), params) if "text" in raw else None
    if text is not None and not isinstance(text, (str, Template)):
        raise check.fail(
            keys + ("text",), f"text must be a string, got {yamlfile.kind(raw['text'])}", "use json: for objects"
        )
    return Respond(
        status,
        str(raw.get("reason", "")),
        headers,
        check.template(raw["json"], keys + ("json",), params) if "json" in raw else None,
        text,
        data,
        is_json="json" in raw,
    )


def _step(raw: dict, check: _Checker, keys: tuple, params: frozenset[str], base: Path | None) -> Step:
    actions = [k for k in ("respond", "error", "fault", "pass") if k in raw]
    if len(actions) > 1:
        raise check.fail(
            keys, f"one action per step, got {', '.join(actions)}", "use sequence: [...] for one action after another"
        )
    delay = _delay(raw["delay"], check, keys + ("delay",)) if "delay" in raw else None
    if not actions:
        if delay is None:
            raise check.fail(keys, "no action", "give one of respond, error, fault, pass or delay")
        return Step("pass", delay=delay)
    kind = actions[0]
    for k in ("retry_after", "message", "headers"):
        if k in raw and kind != "error":
            raise check.fail(keys + (k,), f"{k} belongs with error:, not {kind}:")
    if "stall_for" in raw and raw.get("fault") != "stall":
        raise check.fail(keys + ("stall_for",), "stall_for belongs with fault: stall")
    if kind == "respond":
        return Step("respond", respond=_respond(raw["respond"], check, keys + ("respond",), params, base), delay=delay)
    if kind == "error":
        name = raw["error"]
        unknown = unknown_error(name)
        if unknown:
            raise check.fail(keys + ("error",), *unknown)
        return Step(
            "error",
            error=name,
            retry_after=check.duration(raw["retry_after"], keys + ("retry_after",)) if "retry_after" in raw else None,
            message=check.template(
                check.string(raw["message"], keys + ("message",), "message"), keys + ("message",), params
            )
            if "message" in raw
            else None,
            headers=check.string_pairs(raw.get("headers") or {}, keys + ("headers",), "header"),
            delay=delay,
        )
    if kind == "fault":
        if raw["fault"] not in FAULTS:
            close = yamlfile.closest(raw["fault"], FAULTS)
            raise check.fail(
                keys + ("fault",),
                f"unknown fault {raw['fault']!r}",
                (f"did you mean {close!r}? " if close else "") + "known: " + ", ".join(FAULTS),
            )
        stall_for = check.duration(raw["stall_for"], keys + ("stall_for",)) if "stall_for" in raw else 300.0
        return Step("fault", fault=raw["fault"], stall_for=stall_for, delay=delay)
    if raw["pass"] is not True:
        raise check.fail(keys + ("pass",), "pass takes true")
    return Step("pass", delay=delay, explicit_pass=True)


def _rule(
    raw: Any, check: _Checker, keys: tuple, scenario: str, number: int, base: Path | None, line: int | None
) -> Rule:
    raw = check.mapping(raw, keys, f"rule {number}")
    check.keys(raw, RULE_KEYS, keys, f"rule {number}")
    match = _match(raw.get("match"), check, keys + ("match",))
    params = frozenset(match.path.params) if match.path else frozenset()
    step_raw = {k: v for k, v in raw.items() if k in STEP_KEYS}
    if "sequence" in raw:
        if step_raw:
            raise check.fail(keys, f"a rule with sequence: takes its actions inside it, not {', '.join(step_raw)}")
        seq = raw["sequence"]
        if not isinstance(seq, list) or not seq:
            raise check.fail(keys + ("sequence",), "sequence must be a non-empty list of steps")
        steps = []
        for i, s in enumerate(seq):
            s = check.mapping(s, keys + ("sequence", i), f"sequence step {i + 1}")
            check.keys(s, STEP_KEYS, keys + ("sequence", i), f"sequence step {i + 1}")
            steps.append(_step(s, check, keys + ("sequence", i), params, base))
    elif "rate_limit" in raw:
        steps = [_step(step_raw or {"error": "throttled"}, check, keys, params, base)]
    else:
        steps = [_step(step_raw, check, keys, params, base)]
    if "loop" in raw and not isinstance(raw["loop"], bool):
        raise check.fail(keys + ("loop",), "loop must be true or false")
    probability = raw.get("probability")
    if probability is not None and (
        isinstance(probability, bool) or not isinstance(probability, (int, float)) or not 0 <= probability <= 1
    ):
        raise check.fail(keys + ("probability",), f"probability must be a number from 0 to 1, got {probability!r}")
    per = raw.get("per", "global")
    if per not in PER:
        raise check.fail(keys + ("per",), f"unknown per {per!r}", "one of " + ", ".join(PER))
    window = None
    if "window" in raw:
        w = check.mapping(raw["window"], keys + ("window",), "window")
        check.keys(w, {"from", "until"}, keys + ("window",), "window")
        start = check.duration(w.get("from", 0), keys + ("window", "from"))
        end = check.duration(w["until"], keys + ("window", "until")) if "until" in w else float("inf")
        if end <= start:
            raise check.fail(keys + ("window",), "window: until must be after from")
        window = (start, end)
    rate_limit = None
    if "rate_limit" in raw:
        r = check.mapping(raw["rate_limit"], keys + ("rate_limit",), "rate_limit")
        check.keys(r, {"requests", "per"}, keys + ("rate_limit",), "rate_limit")
        if "requests" not in r or "per" not in r:
            raise check.fail(
                keys + ("rate_limit",), "rate_limit needs requests and per", "e.g. {requests: 10, per: 1s}"
            )
        rate_limit = RateLimit(
            check.integer(r["requests"], keys + ("rate_limit", "requests"), "requests", 1),
            check.duration(r["per"], keys + ("rate_limit", "per")),
        )
        if rate_limit.per <= 0:
            raise check.fail(keys + ("rate_limit", "per"), "per must be longer than 0")
    return Rule(
        scenario=scenario,
        number=number,
        line=line,
        name=str(raw.get("name", "")),
        match=match,
        steps=tuple(steps),
        priority=check.integer(raw.get("priority", 0), keys + ("priority",), "priority", -(10**6)),
        probability=float(probability) if probability is not None else None,
        every=check.integer(raw["every"], keys + ("every",), "every", 1) if "every" in raw else None,
        after=check.integer(raw.get("after", 0), keys + ("after",), "after"),
        times=check.integer(raw["times"], keys + ("times",), "times", 1) if "times" in raw else None,
        per=per,
        window=window,
        state=check.string(raw["state"], keys + ("state",), "state") if "state" in raw else None,
        set_state=check.string(raw["set_state"], keys + ("set_state",), "set_state") if "set_state" in raw else None,
        loop=bool(raw.get("loop", False)),
        rate_limit=rate_limit,
    )


def load(path: str | Path) -> Scenario:
    return parse(yamlfile.read_text(path), str(path), Path(path).parent)


def parse(text: str, path: str, base: Path | None) -> Scenario:
    """A scenario from YAML text; `path` names it in errors, body files are looked up in `base`
    (None: body files are refused)."""
    data, text = yamlfile.parse(text, path)
    check = _Checker(path, text)
    if data is None:
        raise InputError("empty scenario", path, 1, "a scenario holds name:, description: and rules: [...]")
    data = check.mapping(data, (), "a scenario")
    check.keys(data, SCENARIO_KEYS, (), "the scenario")
    if not isinstance(data.get("rules"), list) or not data["rules"]:
        raise check.fail(("rules",) if "rules" in data else (), "a scenario needs a non-empty rules: list")
    name = check.string(data.get("name", Path(path).stem), ("name",), "name")
    seed = data.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, str))):
        raise check.fail(("seed",), f"seed must be an integer or string, got {yamlfile.kind(seed)}")
    lines = yamlfile.item_lines(text, ("rules",))
    rules = tuple(
        _rule(r, check, ("rules", i), name, i + 1, base, lines[i] if i < len(lines) else None)
        for i, r in enumerate(data["rules"])
    )
    states = frozenset(s for r in rules for s in (r.state, r.set_state) if s)
    for r in rules:
        if r.state and r.state != INITIAL_STATE and not any(o.set_state == r.state for o in rules):
            raise InputError(
                f"rule {r.number} waits for state {r.state!r}, which no rule's set_state reaches",
                path,
                r.line,
                f"the first state is {INITIAL_STATE!r}",
            )
    digest = hashlib.sha256(text.encode()).hexdigest()
    return Scenario(name, str(data.get("description", "")), seed, rules, path, states, digest)


def unknown_error(name: Any) -> tuple[str, str] | None:
    """(what is wrong, the hint) for an `error:` that names no error; None for one that does."""
    if isinstance(name, str) and error_name(name) is not None:
        return None
    close = yamlfile.closest(name, ERROR_NAMES)
    guess = f"did you mean {close!r}? " if close else ""
    return f"unknown error {name!r}", guess + "known: " + ", ".join(ERROR_NAMES)
