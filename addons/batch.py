"""Graph JSON batching: POST /v1.0/$batch with up to 20 requests, each a flow of its own.

Each step is run through the whole master (mitmproxy's client-replay handler, the same hooks a
client's request meets), so the pipeline answers it exactly as if it had been sent alone: the
scenarios, the simulation, the cassettes, the miss; while recording, the upstream and the recorder.
Steps are journaled and watched for Retry-After like any other request. Steps run in order.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from urllib.parse import urlsplit

from mitmproxy import ctx, http

from .core import jsonbody
from .core.profiles import graph, named_error
from .runtime import responses
from .runtime.flowstate import state_of

logger = logging.getLogger(__name__)

MAX_REQUESTS = 20
GRAPH_HOST = "graph.microsoft.com"
BATCH_PATHS = ("/v1.0/$batch", "/beta/$batch")


class GraphBatch:
    name = "tapeproxy_batch"
    where = "batch"

    def __init__(self, simulation) -> None:
        self.simulation = simulation  # batches are answered step by step while it simulates

    def answer(self, flow: http.HTTPFlow):
        req = flow.request
        if (
            self.simulation.world is None
            or req.method != "POST"
            or req.host.lower() != GRAPH_HOST
            or req.path.partition("?")[0] not in BATCH_PATHS
        ):
            return None
        return self._answer(flow)

    async def _answer(self, flow: http.HTTPFlow) -> None:
        try:
            steps = _steps(flow.request.get_content(strict=False) or b"")
        except jsonbody.TooComplex as e:
            self._reply(flow, *_error(flow, "too_large", f"tapeproxy: {e}"))
            return
        except ValueError as e:
            self._reply(flow, *_error(flow, "bad_request", str(e)))
            return
        version = flow.request.path.split("/")[1]
        results: dict[str, int] = {}
        out = []
        for step in steps:
            failed = [d for d in step["dependsOn"] if results.get(d, 424) >= 400]
            if failed:
                status, headers, body = _error(
                    flow, "failed_dependency", f"Request {step['id']} depends on {', '.join(failed)}, which failed."
                )
            else:
                status, headers, body = await _one(flow, version, step)
            results[step["id"]] = status
            out.append(_response(step["id"], status, headers, body))
        data = json.dumps({"responses": out}).encode()
        self._reply(flow, 200, [("Content-Type", "application/json")], data)

    @staticmethod
    def _reply(flow: http.HTTPFlow, status: int, headers: list, body: bytes) -> None:
        flow.response = responses.sized(status, headers, body)
        responses.served_by(flow, "batch", "Graph $batch")


async def _one(flow: http.HTTPFlow, version: str, step: dict) -> tuple[int, list, bytes]:
    """A step's answer, from a flow of its own run through the master."""
    from mitmproxy.addons.clientplayback import ReplayHandler  # mitmproxy's own, for `replay.client`

    url = f"https://{GRAPH_HOST}/{version}/{step['url'].lstrip('/')}"
    if urlsplit(url).path.rstrip("/").endswith("/$batch"):
        return _error(flow, "bad_request", f"Request {step['id']}: a batch cannot contain a batch.")
    headers = [("Host", GRAPH_HOST)]
    headers += [
        (k, v)
        for k, v in flow.request.headers.items(multi=True)
        if k.lower() in ("authorization", "client-request-id", "user-agent")
    ]
    headers += [(str(k), str(v)) for k, v in step["headers"].items()]
    body = step["body"]
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        if not any(k.lower() == "content-type" for k, _ in headers):
            headers.append(("Content-Type", "application/json"))
    sub = http.HTTPFlow(flow.client_conn, flow.server_conn)
    sub.request = http.Request.make(
        step["method"], url, body or b"", http.Headers([(k.encode(), v.encode()) for k, v in headers])
    )
    sub.request.timestamp_start = time.time()
    state_of(sub).batch_step = step["id"]
    await ReplayHandler(sub, ctx.options).replay()
    if sub.response is None:  # a fault killed it, or the upstream failed
        why = f" ({sub.error.msg})" if sub.error else ""
        return _error(flow, "service_unavailable", f"tapeproxy: no answer for batch step {step['id']}{why}")
    r = sub.response
    return r.status_code, list(r.headers.items(multi=True)), r.get_content(strict=False) or b""


def _steps(raw: bytes) -> list[dict]:
    try:
        data = jsonbody.loads(raw or b"{}")
    except (ValueError, RecursionError):
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
        if urlsplit(s["url"]).scheme or s["url"].startswith("//"):  # Graph takes relative URLs only
            raise ValueError(f"Batch request step '{s['id']}': the url must be relative, e.g. /me.")
        depends = s.get("dependsOn") or []
        if not isinstance(depends, list) or any(d not in ids - {s["id"]} for d in depends):
            raise ValueError(f"Batch request step '{s['id']}' depends on an id that does not come before it.")
        headers = s.get("headers") or {}
        if not isinstance(headers, dict):
            raise ValueError(f"Batch request step '{s['id']}': 'headers' must be an object.")
        out.append(
            {
                "id": s["id"],
                "method": s["method"].upper(),
                "url": s["url"],
                "headers": headers,
                "body": s.get("body"),
                "dependsOn": depends,
            }
        )
    return out


def _error(flow: http.HTTPFlow, name: str, message: str) -> tuple[int, list, bytes]:
    if name == "failed_dependency":
        headers, body = graph.error(424, "FailedDependency", message, flow.request.headers.items())
        return 424, headers, body
    return named_error(graph, name, flow.request.headers.items(), message)


def _response(step_id: str, status: int, headers: list, body: bytes) -> dict:
    out: dict = {
        "id": step_id,
        "status": status,
        "headers": {k: v for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")},
    }
    if body:
        try:
            out["body"] = json.loads(body)
        except ValueError:
            out["body"] = base64.b64encode(body).decode()  # as Graph does for non-JSON bodies
    return out
