"""The floor's only addon: every request gets the same small fixed response (no lookup at all)."""

from mitmproxy import http

BODY = b'{"id": "bench", "status": {"state": "completed", "description": "fixed"}}'


class FixedResponse:
    def request(self, flow: http.HTTPFlow) -> None:
        flow.response = http.Response.make(200, BODY, {"Content-Type": "application/json"})


addons = [FixedResponse()]
