"""Guidance on what an app does (core/guidance.py): each exchange of an intercepted API checked once
its answer is known, the findings kept on the flow for the journal to show and count; at the end,
the collection reads whose next page nobody asked for."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from urllib.parse import unquote

from mitmproxy import ctx, exceptions, http

from .core import guidance
from .core.profiles import box, graph
from .core.spec import loaded
from .journal import Journal
from .runtime import heap
from .runtime.flowstate import decoded_body, message_header, request_headers, state_of
from .sim import auth


class Guidance:
    name = "tapeproxy_guidance"

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.advisor = guidance.Advisor(entity_type=_entity_type)

    def load(self, loader):
        loader.add_option(
            "tapeproxy_guidance_off",
            Sequence[str],
            [],
            "Guidance rules not to apply (their ids, or all): " + ", ".join(guidance.RULES),
        )

    def configure(self, updated):
        if "tapeproxy_guidance_off" in updated:
            off = set(ctx.options.tapeproxy_guidance_off)
            unknown = off - set(guidance.RULES) - {"all"}
            if unknown:
                raise exceptions.OptionsError(
                    f"no guidance rule {', '.join(sorted(unknown))}; the rules: {', '.join(guidance.RULES)}, or all"
                )
            self.advisor.off = frozenset(guidance.RULES) if "all" in off else frozenset(off)

    def observe(self, flow: http.HTTPFlow) -> None:
        if len(self.advisor.off) == len(guidance.RULES):
            return
        req, resp = flow.request, flow.response
        host, target = req.host.lower(), req.path
        if not (host == graph.HOSTS[0] or host in box.HOSTS):
            return
        state = state_of(flow)
        response_type = message_header(resp, b"content-type") if resp else ""
        parse = (
            resp is not None
            and req.method == "GET"
            and len(resp.raw_content or b"") <= guidance.BODY_LIMIT
            and "json" in response_type
        )
        sent = request_headers(flow)
        exchange = guidance.Exchange(
            method=req.method,
            host=host,
            path=target.partition("?")[0],
            target=target,
            headers={name: sent[name] for name in guidance.HEADERS if name in sent},
            status=resp.status_code if resp else None,
            request_body=(req.raw_content or b"")[: guidance.BODY_LIMIT + 1] if req.method == "POST" else b"",
            response_body=decoded_body(resp) if parse and resp else b"",
            response_type=response_type,
            early_retry=state.early_retry is not None,
            box_user_token=host in box.HOSTS and bool(auth.box_subject_of(sent.get("authorization", ""))),
            when=req.timestamp_start or 0.0,
        )
        state.guidance = tuple(self.advisor.check(exchange))

    def done(self) -> None:
        for finding in self.advisor.unfollowed():
            self.journal.add_guidance(finding)


@functools.lru_cache(maxsize=4096)
def _entity_type(path: str) -> tuple[str, int] | None:
    """The entity type a Graph GET of `path` (/v1.0/...) reads and its property count, by the CSDL
    (the type does not depend on which item a key names, so one answer serves an operation)."""
    return _entity_type_of(tuple(unquote(s) for s in guidance.operation(path).split("/")[2:] if s))


@functools.lru_cache(maxsize=4096)
def _entity_type_of(segments: tuple[str, ...]) -> tuple[str, int] | None:
    spec = loaded.graph()
    heap.settle_once("graph model")  # loaded by the first read
    try:
        at = spec.resolve(list(segments)) if segments else None
    except Exception:  # not a path of the model: nothing to advise
        return None
    if at is None or at.kind not in ("collection", "entity"):
        return None
    return at.type, len(spec.props(at.type))
