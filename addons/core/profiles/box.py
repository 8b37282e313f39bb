"""Box: error envelope and standard headers.

Errors look like Box's ClientError: {"type": "error", "status", "code", "message", "context_info",
"help_url", "request_id"}, with a box-request-id header.
"""

from __future__ import annotations

import json
import secrets

NAME = "box"
# Error code of a replay miss, in this API's own spelling of codes.
MISS_CODE = "tapeproxy_no_recorded_interaction"
HOSTS = ("api.box.com", "upload.box.com")
HELP_URL = "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"


def error(status: int, code: str, message: str, request_headers=(),
          context: dict | None = None) -> tuple[list[tuple[str, str]], bytes]:
    request_id = secrets.token_hex(6)
    body = {"type": "error", "status": status, "code": code, "message": message,
            "context_info": context or {}, "help_url": HELP_URL, "request_id": request_id}
    headers = [("Content-Type", "application/json"), ("box-request-id", "0" + request_id),
               ("Cache-Control", "no-cache, no-store")]
    return headers, json.dumps(body).encode()
