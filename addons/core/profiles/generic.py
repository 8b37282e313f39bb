"""Hosts added by option: a plain JSON error."""

from __future__ import annotations

import json

NAME = "generic"
# Error code of a replay miss, in this API's own spelling of codes.
MISS_CODE = "tapeproxy_no_recorded_interaction"
HOSTS: tuple[str, ...] = ()


def error(status: int, code: str, message: str, request_headers=(), context: dict | None = None) -> tuple[list[tuple[str, str]], bytes]:
    body = {"error": {"code": code, "message": message, **({"context": context} if context else {})}}
    return [("Content-Type", "application/json")], json.dumps(body).encode()
