"""Offline sign-in: a token request that nothing else answered gets a token from the simulated
Microsoft identity and Box OAuth endpoints (and the discovery documents MSAL reads first).

Runs after replay, before the miss: a token exchange a cassette holds is served from it; one it
does not hold would otherwise be a miss the SDK cannot get past, or, without interception, carry
the app's real credentials to the real service. While recording live, token requests go upstream.
"""

from __future__ import annotations

from mitmproxy import http

from . import responses
from .hosts import Intercept
from .sim.http import SimRequest
from .sim.router import sign_in


class SignIn:
    name = "tapeproxy_signin"

    def __init__(self, intercept: Intercept, recorder) -> None:
        self.intercept = intercept
        self.recorder = recorder  # only its `live`: whether requests nothing answered go upstream

    def request(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        if (responses.handled(flow) or self.recorder.live or req.method not in ("GET", "POST")
                or not self.intercept.intercepts(req.host)):
            return
        try:
            reply = sign_in(SimRequest.make(req.method, req.host, req.path, req.headers.items(multi=True),
                                            req.get_content(strict=False) or b""))
            if reply is not None:
                flow.response = responses.sized(reply.status, reply.headers, reply.body)
                responses.served_by(flow, "signin", f"simulated sign-in {req.method} {req.path.partition('?')[0]}")
        except Exception as e:  # never let a failure here send the flow upstream
            responses.internal_error(flow, "sign-in", e)
