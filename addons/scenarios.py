"""The tapeproxy_scenarios addon: scenario rules answer first, in front of the simulation, the
cassettes and live upstream. Delays and stalls are awaited per flow, never holding up others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Sequence  # mitmproxy parses --set only for this spelling
from pathlib import Path

from mitmproxy import ctx, exceptions, http

from . import bundled
from .core import scenario as model
from .core import yamlfile
from .core.engine import Decision, ScenarioEngine
from .core.errors import InputError
from .core.matching import Shape
from .core.profiles import named_error, profile_for
from .core.templates import Context, render_json, text
from .runtime import responses
from .runtime.flowstate import mark, shape_of, state_of

logger = logging.getLogger(__name__)


def resolve(name_or_path: str) -> Path:
    """A scenario file: a path as given, or the name of a built-in one."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return path
    builtin = bundled("scenarios") / f"{name_or_path}.yaml"
    if builtin.is_file():
        return builtin
    close = yamlfile.closest(name_or_path, builtin_names())
    guess = f"did you mean {close!r}? " if close else ""
    raise InputError(
        f"no scenario {name_or_path!r}: not a file and not a built-in one",
        hint=f"{guess}built-in: {', '.join(builtin_names())}",
    )


def builtin_names() -> list[str]:
    return sorted(p.stem for p in bundled("scenarios").glob("*.yaml"))


def load_all(names: Sequence[str]) -> list[model.Scenario]:
    return unique([model.load(resolve(n)) for n in names])


def unique(loaded: list[model.Scenario]) -> list[model.Scenario]:
    """loaded, if no two scenarios share a name. Raises InputError naming both files."""
    seen: dict[str, str] = {}
    for s in loaded:
        if s.name in seen:
            raise InputError(
                f"two scenarios are named {s.name!r} ({seen[s.name]} and {s.path})",
                hint="give one of them another name:",
            )
        seen[s.name] = s.path
    return loaded


class Scenarios:
    name = "tapeproxy_scenarios"
    where = "scenarios"

    def __init__(self) -> None:
        self.engine = ScenarioEngine()
        self.fired: Counter = Counter()

    def load(self, loader):
        loader.add_option(
            "tapeproxy_scenarios",
            Sequence[str],
            [],
            "Scenarios to apply: built-in names (graph-throttle-once, ...) or YAML files.",
        )

    def configure(self, updated):
        if "tapeproxy_scenarios" in updated:
            try:
                self.engine.set(load_all(ctx.options.tapeproxy_scenarios))
            except InputError as e:
                raise exceptions.OptionsError(str(e)) from None
            if self.engine.names:
                logger.info("tapeproxy: scenarios " + ", ".join(self.engine.names))

    # -- runtime control (the control API calls these) --------------------------------------------
    def active(self) -> list[model.Scenario]:
        return [st.scenario for st in self.engine.scenarios]

    def describe(self) -> list[dict]:
        """The active scenarios, their rules and counters (the control API's answer)."""
        return self.engine.describe()

    def reset(self) -> None:
        """Counters, sequences, buckets, states and time windows start again."""
        self.engine.reset()

    def use(self, scenarios: list[model.Scenario]) -> None:
        """Exactly these, in this order (names unique: load_all checks, add replaces); ones already
        active keep their counters."""
        self.engine.set(scenarios)
        logger.info("tapeproxy: scenarios now " + (", ".join(self.engine.names) or "(none)"))

    def reload_files(self) -> None:
        """Read the active scenarios' files again; unchanged ones keep their counters. Raises InputError."""
        self.use(unique([model.load(s.path) if s.path and Path(s.path).is_file() else s for s in self.active()]))

    def add(self, scenario: model.Scenario) -> None:
        """Add one; a scenario of the same name is replaced in place."""
        current = self.active()
        if any(s.name == scenario.name for s in current):
            self.use([scenario if s.name == scenario.name else s for s in current])
        else:
            self.use([*current, scenario])

    def remove(self, name: str) -> bool:
        current = self.active()
        if not any(s.name == name for s in current):
            return False
        self.use([s for s in current if s.name != name])
        return True

    def answer(self, flow: http.HTTPFlow):
        """Sync when no rule fires (the common case costs no coroutine); a coroutine when it must wait."""
        if not self.engine.scenarios:
            return None
        client = flow.client_conn.peername[0] if flow.client_conn.peername else ""
        shape = shape_of(flow)
        decision = self.engine.decide(shape, client)
        if decision is None:
            return None
        for rule in (decision.rule, *decision.also):
            self.fired[rule.label] += 1
        if decision.delay or decision.step.fault == "stall":
            return self._after_waiting(flow, decision, shape)
        self._apply(flow, decision, Context(shape, decision.params))
        return None

    async def _after_waiting(self, flow: http.HTTPFlow, decision: Decision, shape: Shape) -> None:
        if decision.delay:
            await asyncio.sleep(decision.delay)
        self._apply(flow, decision, Context(shape, decision.params))
        if decision.step.fault == "stall":
            # Hold the flow until the client gives up (or stall_for passes); nothing else waits on it.
            await asyncio.sleep(decision.step.stall_for)
            if flow.killable:
                flow.kill()

    def _apply(self, flow: http.HTTPFlow, d: Decision, ctx_: Context) -> None:
        """ctx_: what templates read, from the request as the rules saw it (parsed once)."""
        step = d.step
        label = f"{d.rule.label}" + (f" (step {d.nth})" if len(d.rule.steps) > 1 else "")
        if step.kind == "respond":
            flow.response = self._respond(flow, d, ctx_)
            responses.served_by(flow, "scenario", label)
        elif step.kind == "error":
            flow.response = self._error(flow, d, ctx_)
            responses.served_by(flow, "scenario", f"{label}: {step.error}")
        elif step.kind == "fault":
            self._fault(flow, d, label)
        elif step.delay:
            flow.comment = f"tapeproxy: {label}: delayed {d.delay:.3f}s"

    @staticmethod
    def _respond(flow: http.HTTPFlow, d: Decision, ctx_: Context) -> http.Response:
        r = d.step.respond
        assert r is not None  # a respond step
        headers = [(k, text(v, ctx_)) for k, v in r.headers]
        if r.is_json:
            body = json.dumps(render_json(r.json, ctx_), ensure_ascii=False).encode()
            default_type = "application/json"
        elif r.data is not None:
            body, default_type = r.data, "application/octet-stream"
        elif r.text is not None:
            body = text(r.text, ctx_).encode()
            default_type = "text/plain; charset=utf-8"
        else:
            body, default_type = b"", None
        names = {k.lower() for k, _ in headers}
        if default_type and "content-type" not in names:
            headers.append(("Content-Type", default_type))
        # what the service sends with every answer, under what the rule gives
        standard = profile_for(flow.request.host).standard_headers(flow.request.headers.items())
        headers += [(k, v) for k, v in standard if k.lower() not in names]
        return responses.sized(r.status, headers, body, r.reason)

    @staticmethod
    def _error(flow: http.HTTPFlow, d: Decision, ctx_: Context) -> http.Response:
        step = d.step
        profile = profile_for(flow.request.host)
        message = text(step.message, ctx_) if step.message is not None else None
        retry_after = d.retry_after if d.retry_after is not None else step.retry_after
        assert step.error is not None  # an error step
        status, headers, body = named_error(profile, step.error, flow.request.headers.items(), message, retry_after)
        if d.rate_limit and profile.RATE_LIMIT_HEADERS:
            limit, remaining, reset = d.rate_limit
            headers += [
                ("RateLimit-Limit", str(limit)),
                ("RateLimit-Remaining", str(remaining)),
                ("RateLimit-Reset", str(int(reset))),
            ]
        return responses.sized(status, [*headers, *step.headers], body)

    def _fault(self, flow: http.HTTPFlow, d: Decision, label: str) -> None:
        kind = d.step.fault
        flow.comment = f"tapeproxy: {label}: fault {kind}"
        mark(flow, "scenario", f"{label}: fault {kind}")
        if kind == "truncate":
            state_of(flow).truncate = True  # the next layer answers; truncate() cuts it short
        elif kind != "stall":  # stall: request() holds the flow, then drops it
            flow.kill()

    def truncate(self, flow: http.HTTPFlow) -> None:
        """A response observer: the answer to a flow a truncate fault marked is cut in half."""
        if state_of(flow).truncate and flow.response is not None:
            body = flow.response.raw_content or b""
            full = max(len(body), 64)
            flow.response.headers["content-length"] = str(full)
            flow.response.headers["connection"] = "close"
            flow.response.raw_content = body[: len(body) // 2]
            logger.info(
                responses.scrubbed(
                    flow,
                    f"tapeproxy: truncated {flow.request.method} "
                    f"{flow.request.pretty_url} at {len(body) // 2} of {full} bytes",
                )
            )
