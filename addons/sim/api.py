"""What every simulated answer of each API shares: its reply with the service's standard headers,
and the time as the API writes it. Errors go through http.error_reply (the profiles' envelopes)."""

from __future__ import annotations

import datetime
import secrets
import time
import uuid
from typing import Any

from ..core.profiles import graph as graph_profile
from .http import Reply, SimRequest, json_reply


def now() -> str:
    """Box's timestamps: seconds, with the offset."""
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()


def graph_now() -> str:
    """Graph's timestamps: UTC with a Z."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def graph_headers(req: SimRequest) -> list[tuple[str, str]]:
    request_id = str(uuid.uuid4())
    return [
        ("Cache-Control", "no-cache"),
        ("request-id", request_id),
        ("client-request-id", req.header("client-request-id") or request_id),
        (
            "x-ms-ags-diagnostic",
            '{"ServerInfo":{"DataCenter":"West US 2","Slice":"E","Ring":"1",'
            '"ScaleUnit":"001","RoleInstance":"TAPEPROXY-SIM"}}',
        ),
        ("OData-Version", "4.0"),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())),
    ]


def graph_reply(req: SimRequest, status: int, data: Any = None, headers=()) -> Reply:
    base = [*graph_headers(req), *headers]
    if data is None:
        return Reply(status, base, b"")
    r = json_reply(status, data)
    r.headers = [("Content-Type", graph_profile.JSON_CONTENT_TYPE), *base]
    return r


def box_reply(status: int, data: Any = None, headers=()) -> Reply:
    base = [
        ("box-request-id", "0" + secrets.token_hex(16)),
        ("Cache-Control", "no-cache, no-store"),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("Date", time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())),
        *headers,
    ]
    if data is None:
        return Reply(status, base, b"")
    r = json_reply(status, data)
    r.headers += base
    return r
