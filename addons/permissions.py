"""Graph permissions, as Graph enforces them: a token with claims (`scp` for a signed-in user,
`roles` for an app) that holds none of the permissions allowing a call's method and path, in its
kind, gets the workload's 403 (core/profiles/graph.py). Opaque tokens (`Bearer demo`) are let
through unless --strict-permissions. Only where tapeproxy stands in for Graph (the simulated world,
the spec answers): scenarios answer before it and cassettes replay what was recorded.

Every Graph call is counted for the minimal-permissions report (core/permission_report.py).
"""

from __future__ import annotations

from mitmproxy import ctx, http

from .core import permissions
from .core.permission_report import PermissionUsage
from .core.profiles import graph
from .runtime import heap, responses
from .runtime.flowstate import request_headers
from .runtime.mode import Mode
from .simulation import SimulationAddon
from .spec_answers import SpecAnswers


class Permissions:
    name = "tapeproxy_permissions"
    where = "permissions"

    def __init__(self, simulation: SimulationAddon, spec: SpecAnswers, mode: Mode) -> None:
        self.simulation = simulation
        self.spec = spec
        self.mode = mode
        self.usage = PermissionUsage()
        self.strict = False
        self.refused = 0

    def load(self, loader):
        loader.add_option(
            "tapeproxy_strict_permissions",
            bool,
            False,
            "Refuse Graph calls whose token has no claims (Bearer demo) as Graph would a token without permissions.",
        )

    def configure(self, updated):
        if "tapeproxy_strict_permissions" in updated:
            self.strict = ctx.options.tapeproxy_strict_permissions

    @staticmethod
    def _graph_call(flow: http.HTTPFlow) -> str | None:
        """The path of a Graph API call (under /v1.0 or /beta), or None."""
        req = flow.request
        if req.host.lower() != graph.HOSTS[0]:
            return None
        path = req.path
        return path if path[1:].partition("/")[0] in ("v1.0", "beta") else None

    @staticmethod
    def _token(flow: http.HTTPFlow) -> tuple[str, frozenset[str]] | None:
        return permissions.token_of(request_headers(flow).get("authorization", ""))

    def answer(self, flow: http.HTTPFlow) -> None:
        if self.mode.live or (self.simulation.world is None and not self.spec.enabled):
            return  # not standing in for Graph (asked first: replay's every request passes here)
        path = self._graph_call(flow)
        if path is None or "authorization" not in request_headers(flow):
            return  # no token at all: the world's 401, in Graph's words
        token = self._token(flow)
        if token is None and not self.strict:
            return
        kind, held = token or ("application", frozenset())
        rule = permissions.lookup(flow.request.method, path)
        if rule is None or rule.allows(kind, held):
            return
        needed = rule.least(kind)
        code, message = graph.permission_denied(path, rule.names(kind), sorted(held), kind)
        headers, body = graph.error(403, code, message, list(flow.request.headers.items()))
        flow.response = responses.sized(403, headers, body)
        self.refused += 1
        why = f"the {kind} token needs {' or '.join(needed)}" if needed else f"no {kind} permission allows it"
        responses.served_by(flow, "simulation", f"permissions: refused, {why}")

    def observe(self, flow: http.HTTPFlow) -> None:
        """Count the call for the report, whatever answered it."""
        path = self._graph_call(flow)
        if path is not None:
            token = self._token(flow)
            self.usage.add(flow.request.method, path, *(token or (None, frozenset())))
            heap.settle_once("permissions model")  # loaded by the first call
