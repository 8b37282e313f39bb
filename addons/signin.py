"""Offline sign-in: a token request that nothing else answered gets a token from the simulated
Microsoft identity and Box OAuth endpoints (and the discovery documents MSAL reads first).

Runs after replay, before the miss: a token exchange a cassette holds is served from it; one it
does not hold would otherwise be a miss the SDK cannot get past, or, without interception, carry
the app's real credentials to the real service. While recording live, token requests go upstream.
"""

from __future__ import annotations

from mitmproxy import http

from .runtime import responses
from .runtime.mode import Mode
from .sim.http import SimRequest
from .sim.router import sign_in


class SignIn:
    name = "tapeproxy_signin"
    where = "sign-in"

    def __init__(self, mode: Mode) -> None:
        self.mode = mode

    def answer(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        if self.mode.live or req.method not in ("GET", "POST"):
            return
        reply = sign_in(SimRequest.of(req))
        if reply is not None:
            flow.response = responses.sized(reply.status, reply.headers, reply.body)
            responses.served_by(flow, "signin", f"simulated sign-in {req.method} {req.path.partition('?')[0]}")
