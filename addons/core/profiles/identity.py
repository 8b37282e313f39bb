"""Microsoft identity (Entra ID sign-in): the hosts SDKs ask for tokens, and its error shape.

Intercepted by default so that a token request never leaves a replaying proxy: MSAL and
azure-identity send the app's credentials there before any Graph call. Errors look like the
identity platform's: {"error", "error_description", "error_codes", "timestamp", "trace_id",
"correlation_id"}.
"""

from __future__ import annotations

import json
import time
import uuid

from . import generic

MISS_CODE = "tapeproxy_no_recorded_interaction"
# The global cloud's sign-in hosts, then the national clouds' (US Government, China).
HOSTS = (
    "login.microsoftonline.com",
    "login.microsoft.com",
    "login.windows.net",
    "sts.windows.net",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
)
HOST_SUFFIXES: tuple[str, ...] = ()
SIGNIFICANT_HEADERS: tuple[str, ...] = ()
RATE_LIMIT_HEADERS = False
CATALOGUE = generic.CATALOGUE
EMPTY_BODY_ERRORS: frozenset[str] = frozenset()


def standard_headers(request_headers=(), request_id: str = "") -> list[tuple[str, str]]:
    """The identity platform's: its x-ms-request-id."""
    return [("x-ms-request-id", request_id or str(uuid.uuid4()))]


def error(
    status: int, code: str, message: str, request_headers=(), context: dict | None = None
) -> tuple[list[tuple[str, str]], bytes]:
    trace_id = str(uuid.uuid4())
    body = {
        "error": code,
        "error_description": message,
        "error_codes": [],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": trace_id,
        "correlation_id": str(uuid.uuid4()),
    }
    return [
        ("Content-Type", "application/json; charset=utf-8"),
        *standard_headers(request_headers, trace_id),
        ("Cache-Control", "no-store, no-cache"),
    ], json.dumps(body).encode()
