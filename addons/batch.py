"""Graph JSON batching: POST /v1.0/$batch with up to 20 requests, each answered by the scenarios,
the simulation or the cassettes exactly as if it had been sent alone."""

from __future__ import annotations

import base64
import inspect
import json
import logging

from mitmproxy import http

from . import responses
from .core.profiles import graph, named_error

logger = logging.getLogger(__name__)

MAX_REQUESTS = 20
BATCH_PATHS = ("/v1.0/$batch", "/beta/$batch")


class GraphBatch:
    name = "tapeproxy_batch"

    def __init__(self, simulation, answerers: list) -> None:
        self.simulation = simulation
        self.answerers = answerers  # the addons that answer a request, in order

    def request(self, flow: http.HTTPFlow):
        req = flow.request
        if (responses.handled(flow) or self.simulation.sim is None or req.method != "POST"
                or req.host.lower() != "graph.microsoft.com" or req.path.partition("?")[0] not in BATCH_PATHS):
            return None
        return self._answer(flow)

    async def _answer(self, flow: http.HTTPFlow) -> None:
        try:
            steps = _steps(flow.request.get_content(strict=False) or b"")
        except ValueError as e:
            self._reply(flow, *_error(flow, "bad_request", str(e)))
            return
        try:
            version = flow.request.path.split("/")[1]
            results: dict[str, int] = {}
            out = []
            for step in steps:
                failed = [d for d in step["dependsOn"] if results.get(d, 424) >= 400]
                if failed:
                    status, headers, body = _error(flow, "failed_dependency",
                                                   f"Request {step['id']} depends on {', '.join(failed)}, which failed.")
                else:
                    status, headers, body = await self._one(flow, version, step)
                results[step["id"]] = status
                out.append(_response(step["id"], status, headers, body))
            data = json.dumps({"responses": out}).encode()
            self._reply(flow, 200, [("Content-Type", "application/json")], data)
        except Exception as e:  # never forward the batch
            responses.internal_error(flow, "batch", e)

    async def _one(self, flow: http.HTTPFlow, version: str, step: dict) -> tuple[int, list, bytes]:
        url = step["url"] if step["url"].startswith("http") else \
            f"https://graph.microsoft.com/{version}/{step['url'].lstrip('/')}"
        headers = [(k, v) for k, v in flow.request.headers.items(multi=True)
                   if k.lower() in ("authorization", "client-request-id", "user-agent")]
        headers += [(str(k), str(v)) for k, v in step["headers"].items()]
        body = step["body"]
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            if not any(k.lower() == "content-type" for k, _ in headers):
                headers.append(("Content-Type", "application/json"))
        sub = http.HTTPFlow(flow.client_conn, flow.server_conn)
        sub.request = http.Request.make(step["method"], url, body or b"",
                                        http.Headers([(k.encode(), v.encode()) for k, v in headers]))
        for addon in self.answerers:
            result = addon.request(sub)
            if inspect.isawaitable(result):
                await result
            if responses.handled(sub):
                break
        if sub.response is None:  # a fault killed it, or nothing offline could answer
            return _error(flow, "service_unavailable", "tapeproxy: no answer for this batch step "
                                                       "(a scenario fault, or live upstream in record mode)")
        r = sub.response
        return r.status_code, list(r.headers.items(multi=True)), r.get_content(strict=False) or b""

    @staticmethod
    def _reply(flow: http.HTTPFlow, status: int, headers: list, body: bytes) -> None:
        flow.response = responses.sized(status, headers, body)
        responses.served_by(flow, "batch", "Graph $batch")


def _steps(raw: bytes) -> list[dict]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise ValueError("Invalid batch payload format: the body must be JSON.") from None
    steps = data.get("requests") if isinstance(data, dict) else None
    if not isinstance(steps, list) or not steps:
        raise ValueError("Invalid batch payload format: 'requests' must be a non-empty array.")
    if len(steps) > MAX_REQUESTS:
        raise ValueError(f"Number of batch request steps exceeds the maximum of {MAX_REQUESTS}.")
    out, ids = [], set()
    for s in steps:
        if not isinstance(s, dict) or not isinstance(s.get("id"), str) or not s["id"]:
            raise ValueError("Every batch request step needs a string 'id'.")
        if s["id"] in ids:
            raise ValueError(f"Batch request contains duplicate Id value '{s['id']}'.")
        ids.add(s["id"])
        if not isinstance(s.get("method"), str) or not isinstance(s.get("url"), str):
            raise ValueError(f"Batch request step '{s['id']}' needs 'method' and 'url'.")
        depends = s.get("dependsOn") or []
        if not isinstance(depends, list) or any(d not in ids - {s["id"]} for d in depends):
            raise ValueError(f"Batch request step '{s['id']}' depends on an id that does not come before it.")
        headers = s.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError(f"Batch request step '{s['id']}': 'headers' must be an object.")
        out.append({"id": s["id"], "method": s["method"].upper(), "url": s["url"], "headers": headers,
                    "body": s.get("body"), "dependsOn": depends})
    return out


def _error(flow: http.HTTPFlow, name: str, message: str) -> tuple[int, list, bytes]:
    if name == "failed_dependency":
        headers, body = graph.error(424, "FailedDependency", message, flow.request.headers.items())
        return 424, headers, body
    return named_error(graph, name, flow.request.headers.items(), message)


def _response(step_id: str, status: int, headers: list, body: bytes) -> dict:
    out: dict = {"id": step_id, "status": status,
                 "headers": {k: v for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")}}
    if body:
        try:
            out["body"] = json.loads(body)
        except ValueError:
            out["body"] = base64.b64encode(body).decode()  # as Graph does for non-JSON bodies
    return out
