"""`tapeproxy permissions CASSETTE|HAR...`: the minimal-permissions report of recorded Graph calls,
offline (core/permission_report.py), as Markdown or JSON."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from ..core import cassette, har, permissions
from ..core.errors import InputError
from ..core.matching import header_value
from ..core.permission_report import PermissionUsage, markdown
from ..core.profiles import graph


def _calls(path: str) -> list[tuple[str, str, str]]:
    """(method, URL, Authorization) of each recorded request in a cassette or a HAR file."""
    if path.lower().endswith(".har"):
        return [
            (e.method, e.url, header_value(e.request_headers, "authorization")) for _, e in har.load(path).exchanges
        ]
    return [
        (i.request.method, i.request.uri, header_value(i.request.headers, "authorization")) for i in cassette.load(path)
    ]


def report(paths: list[str]) -> dict:
    usage = PermissionUsage()
    for path in paths:
        for method, url, authorization in _calls(path):
            parts = urlsplit(url)
            if (parts.hostname or "") != graph.HOSTS[0] or parts.path.split("/")[1:2] not in (["v1.0"], ["beta"]):
                continue
            usage.add(method, parts.path, *(permissions.token_of(authorization) or (None, frozenset())))
    return usage.report()


def run(paths: list[str], as_json: bool) -> str:
    try:
        found = report(paths)
    except OSError as e:
        raise InputError(f"cannot read {e.filename}: {e.strerror}") from None
    return json.dumps(found, indent=2) if as_json else "\n".join(markdown(found))
