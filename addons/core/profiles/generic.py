"""Hosts added by option: a plain JSON error."""

from __future__ import annotations

import json

# Error code of a replay miss, in this API's own spelling of codes.
MISS_CODE = "tapeproxy_no_recorded_interaction"
HOSTS: tuple[str, ...] = ()
HOST_SUFFIXES: tuple[str, ...] = ()
SIGNIFICANT_HEADERS: tuple[str, ...] = ()
RATE_LIMIT_HEADERS = True
CATALOGUE = {
    name: (status, name, message, ())
    for name, status, message in [
        ("bad_request", 400, "Bad Request"),
        ("unauthorized", 401, "Unauthorized"),
        ("token_expired", 401, "The access token has expired"),
        ("forbidden", 403, "Forbidden"),
        ("not_found", 404, "Not Found"),
        ("method_not_allowed", 405, "Method Not Allowed"),
        ("conflict", 409, "Conflict"),
        ("precondition_failed", 412, "Precondition Failed"),
        ("too_large", 413, "Request Entity Too Large"),
        ("throttled", 429, "Too Many Requests"),
        ("server_error", 500, "Internal Server Error"),
        ("bad_gateway", 502, "Bad Gateway"),
        ("service_unavailable", 503, "Service Unavailable"),
        ("gateway_timeout", 504, "Gateway Timeout"),
        ("insufficient_storage", 507, "Insufficient Storage"),
    ]
}
EMPTY_BODY_ERRORS: frozenset[str] = frozenset()


def standard_headers(request_headers=(), request_id: str = "") -> list[tuple[str, str]]:
    """Another API's: none known."""
    return []


def error(
    status: int, code: str, message: str, request_headers=(), context: dict | None = None
) -> tuple[list[tuple[str, str]], bytes]:
    body = {"error": {"code": code, "message": message, **({"context": context} if context else {})}}
    return [("Content-Type", "application/json")], json.dumps(body).encode()
