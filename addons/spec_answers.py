"""Spec answers: a request to Box or Graph that no scenario, simulation or cassette answered is
answered from the official spec, the way the API would: a 2xx with a body generated to its schema,
or the API's own error for a path or method it does not have and for a request it would refuse.

On in `tapeproxy demo`, off in replay unless --spec: replay answers misses as misses. Every answer
is marked as generated (X-Tapeproxy-Source: spec, the log, the journal, mitmweb's comment) and
counted in the summary, so nobody takes it for recorded data. The models load on first use.
"""

from __future__ import annotations

import asyncio
import json
import logging

from mitmproxy import ctx, http

from .core import profiles
from .core.spec import loaded
from .core.spec.box import Answer as BoxAnswer
from .core.spec.box import BoxSpec
from .core.spec.graph import Answer as GraphAnswer
from .core.spec.graph import GraphSpec
from .runtime import responses
from .runtime.flowstate import served
from .runtime.mode import Mode
from .sim import auth
from .sim.http import ApiError, SimRequest, error_reply

logger = logging.getLogger(__name__)

SOURCE_HEADER = "X-Tapeproxy-Source"


class SpecAnswers:
    name = "tapeproxy_spec_answers"
    where = "spec"

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.enabled = False
        self.validating = False
        self.answered = 0
        self.flagged = 0  # requests a cassette answered that the real API would refuse (--validate)

    def load(self, loader):
        loader.add_option(
            "tapeproxy_spec",
            bool,
            False,
            "Answer Box and Graph requests nothing else answered from the APIs' official specs (generated, marked).",
        )

        loader.add_option(
            "tapeproxy_validate",
            bool,
            False,
            "Check requests a cassette answers against the specs; flag in the log those the API would refuse.",
        )

    def configure(self, updated):
        if "tapeproxy_spec" in updated:
            self.enabled = ctx.options.tapeproxy_spec
        if "tapeproxy_validate" in updated:
            self.validating = ctx.options.tapeproxy_validate

    def validate(self, flow: http.HTTPFlow) -> None:
        """A response observer (--validate): a request a cassette answered that the real API would
        refuse is flagged in the log, on the flow's comment and in the summary; its answer stays."""
        by = served(flow)
        if not self.validating or by is None or by.source != "cassette":
            return
        req = flow.request
        host, path = req.host.lower().rstrip("."), req.path.partition("?")[0]
        query, body = list(req.query.items(multi=True)), req.get_content(strict=False) or b""
        why = ""
        if host == "api.box.com":
            box = self.box.refusal(req.method, path, query, body, req.headers.get("box-version", ""))
            if box is not None:
                why = f"{box.status} {box.error}: " + _box_errors(box)
        elif host == "graph.microsoft.com" and path.startswith("/v1.0/"):
            graph = self.graph.refusal(req.method, path, query, body, req.headers.items(multi=True))
            if graph is not None:
                why = f"{graph.status} {graph.code}: {graph.message}"
        if why:
            self.flagged += 1
            note = f"the real API would refuse this request ({why})"
            logger.warning(responses.scrubbed(flow, f"tapeproxy: INVALID {req.method} {req.pretty_url}: {note}"))
            flow.comment = f"{flow.comment}; {note}" if flow.comment else f"tapeproxy: {note}"

    @property
    def box(self) -> BoxSpec:
        return loaded.box()

    @property
    def graph(self) -> GraphSpec:
        return loaded.graph()

    def answer(self, flow: http.HTTPFlow):
        if not self.enabled or self.mode.live:
            return None
        req = flow.request
        signed = SimRequest.of(req)  # the body decoded once, for the token check and the answer
        host, body, headers = signed.host, signed.body, signed.headers
        path = req.path.partition("?")[0]  # as sent: the spec's routes read it so
        query = list(req.query.items(multi=True))
        is_box = host == "api.box.com"
        if not is_box and profiles.profile_for(host) is profiles.box and not profiles.box.is_upload_host(host):
            return self._box_satellite(flow, host, path)
        if host == profiles.graph.REPORTS_HOST and req.method == "GET":  # where a usage report's 302 leads
            report = self.graph.report(path)
            if report.code:
                flow.response = _graph_error(report, headers)
            else:
                flow.response = _reply(report.status, report.body, report.content_type, [(SOURCE_HEADER, "spec")])
            self.answered += 1
            responses.served_by(flow, "spec", f"spec: Graph {report.label} (generated, not recorded)")
            return
        if not is_box and not (host == "graph.microsoft.com" and path.startswith("/v1.0/")):
            return
        try:  # as the services do: no token, no answer (any bearer token will do)
            (auth.check_box if is_box else auth.check_bearer)(signed)
        except ApiError as err:
            reply = error_reply(profiles.box if is_box else profiles.graph, signed, err)
            flow.response = responses.sized(reply.status, [*reply.headers, (SOURCE_HEADER, "spec")], reply.body)
            self.answered += 1
            responses.served_by(flow, "spec", f"spec: {reply.status} without a usable bearer token")
            return
        if is_box:
            a = self.box.answer(req.method, path, query, body, version=signed.header("box-version") or "")
            flow.response = _box_response(a, headers, profiles.box.standard_headers())
            label = f"spec: Box {a.label}"
        else:
            g = self.graph.answer(req.method, path, query, body, headers)
            if g.code:
                flow.response = _graph_error(g, headers)
            else:
                ctype = profiles.graph.JSON_CONTENT_TYPE if g.content_type == "application/json" else g.content_type
                standard = profiles.graph.standard_headers(headers)
                flow.response = _reply(g.status, g.body, ctype, [*standard, *g.headers, (SOURCE_HEADER, "spec")])
            label = f"spec: Graph {g.label or req.method + ' ' + path}"
        self.answered += 1
        responses.served_by(flow, "spec", f"{label} (generated from the official spec, not recorded)")

    def _box_satellite(self, flow: http.HTTPFlow, host: str, path: str):
        """Box's other hosts (downloads, the event long-poll, icons, web links): what they lead to."""
        a = self.box.satellite(flow.request.method, host, path)
        if a is None:
            return None
        flow.response = _box_response(a, list(flow.request.headers.items(multi=True)), [])  # not the API's hosts
        self.answered += 1
        label = f"spec: Box {a.label} (generated, not recorded)"
        if a.hold:  # a long-poll: the answer waits, the event loop does not
            response, flow.response = flow.response, None
            return _after(a.hold, flow, response, label)
        responses.served_by(flow, "spec", label)
        return None


async def _after(seconds: float, flow: http.HTTPFlow, response: http.Response, label: str) -> None:
    await asyncio.sleep(seconds)
    flow.response = response
    responses.served_by(flow, "spec", label)


def _box_response(a: BoxAnswer, request_headers: list[tuple[str, str]], standard: list) -> http.Response:
    """A Box spec answer as mitmproxy's response: Box's error envelope, or the body with `standard`
    (the API's standard headers, on its own host)."""
    if not a.error:
        return _reply(a.status, a.body, a.content_type, [*standard, (SOURCE_HEADER, "spec")])
    status, code, message, extra = profiles.box.CATALOGUE[a.error]
    hdrs, data = profiles.box.error(status, code, a.message or message, request_headers, a.context)
    return responses.sized(status, [*hdrs, *extra, *a.headers, (SOURCE_HEADER, "spec")], data)


def _graph_error(a: GraphAnswer, request_headers: list[tuple[str, str]]) -> http.Response:
    hdrs, data = profiles.graph.error(a.status, a.code, a.message, request_headers)
    return responses.sized(a.status, [*hdrs, (SOURCE_HEADER, "spec")], data)


def _box_errors(answer) -> str:
    errors = (answer.context or {}).get("errors") or []
    return "; ".join(e.get("message", "") for e in errors) or answer.label


def _reply(status: int, body, content_type: str, headers: list[tuple[str, str]]) -> http.Response:
    if body is None or status == 204:
        return responses.sized(status, headers, b"")
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return responses.sized(status, [("Content-Type", content_type), *headers], data)
