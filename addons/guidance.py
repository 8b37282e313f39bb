"""Guidance on what an app does (core/guidance.py): each exchange of an intercepted API checked once
its answer is known, the findings kept on the flow for the journal to show and count; at the end,
the collection reads whose next page nobody asked for."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote

from mitmproxy import ctx, exceptions, http

from .core import guidance
from .core.profiles import box, graph
from .core.spec import loaded
from .journal import Journal
from .runtime.flowstate import state_of
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
        host = req.host.lower()
        if not (host == graph.HOSTS[0] or host in box.HOSTS):
            return
        state = state_of(flow)
        parse = (
            resp is not None
            and req.method == "GET"
            and len(resp.raw_content or b"") <= guidance.BODY_LIMIT
            and "json" in resp.headers.get("content-type", "")
        )
        exchange = guidance.Exchange(
            method=req.method,
            host=host,
            path=req.path.partition("?")[0],
            target=req.path,
            query=dict(req.query.items()),
            headers={k.lower(): v for k, v in req.headers.items()},
            status=resp.status_code if resp else None,
            request_body=(req.raw_content or b"")[: guidance.BODY_LIMIT + 1],
            response_body=(resp.content or b"") if parse and resp else b"",
            response_type=resp.headers.get("content-type", "") if resp else "",
            early_retry=state.early_retry is not None,
            box_user_token=bool(auth.box_subject_of(req.headers.get("authorization", ""))),
            when=req.timestamp_start or 0.0,
        )
        state.guidance = tuple((f.rule, f.line) for f in self.advisor.check(exchange))

    def done(self) -> None:
        for finding in self.advisor.unfollowed():
            self.journal.add_guidance(finding.rule, finding.line)


def _entity_type(path: str) -> tuple[str, int] | None:
    """The entity type a Graph GET of `path` (/v1.0/...) reads and its property count, by the CSDL."""
    spec = loaded.graph()
    segments = [unquote(s) for s in path.split("/")[2:] if s]
    try:
        at = spec.resolve(segments) if segments else None
    except Exception:  # not a path of the model: nothing to advise
        return None
    if at is None or at.kind not in ("collection", "entity"):
        return None
    return at.type, len(spec.props(at.type))
