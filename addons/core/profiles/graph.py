"""Microsoft Graph: error envelope and standard headers.

Errors look like Graph's own: {"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}, echoing the client's client-request-id, with a request-id header.
`context` is dropped: Graph's envelope has no place for it.
"""

from __future__ import annotations

import json
import time
import uuid

NAME = "graph"
# Error code of a replay miss, in this API's own spelling of codes.
MISS_CODE = "tapeproxyNoRecordedInteraction"
HOSTS = ("graph.microsoft.com",)


def _header(headers, name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def error(status: int, code: str, message: str, request_headers=(), context: dict | None = None) -> tuple[list[tuple[str, str]], bytes]:
    request_id = str(uuid.uuid4())
    client_request_id = _header(request_headers, "client-request-id") or request_id
    date = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    body = {"error": {"code": code, "message": message,
                      "innerError": {"date": date, "request-id": request_id,
                                     "client-request-id": client_request_id}}}
    headers = [("Content-Type", "application/json"), ("request-id", request_id),
               ("client-request-id", client_request_id), ("Cache-Control", "no-cache")]
    return headers, json.dumps(body).encode()
