"""API profiles: what is specific to each API (hosts, error envelope, standard headers,
the request headers that change an answer).

`profile_for(host)` picks the profile; hosts added by option, or named only by a cassette, get the
generic one.
"""

from __future__ import annotations

import math

from . import box, generic, graph, identity

PROFILES = (graph, box, identity)
DEFAULT_HOSTS: tuple[str, ...] = tuple(h for p in PROFILES for h in p.HOSTS)
# Satellite hosts by suffix: every host under these is an API's (e.g. Box's download hosts).
DEFAULT_HOST_SUFFIXES: tuple[str, ...] = tuple(s for p in PROFILES for s in p.HOST_SUFFIXES)
_BY_HOST = {h: p for p in PROFILES for h in p.HOSTS}


def api_host(host: str) -> bool:
    """Whether an API profile owns this host (lower case, no trailing dot)."""
    return host in _BY_HOST or host.endswith(DEFAULT_HOST_SUFFIXES)


def profile_for(host: str):
    host = host.lower().rstrip(".")
    profile = _BY_HOST.get(host)
    if profile is not None:
        return profile
    for profile in PROFILES:
        if profile.HOST_SUFFIXES and host.endswith(profile.HOST_SUFFIXES):
            return profile
    return generic


ERROR_NAMES: tuple[str, ...] = tuple(graph.CATALOGUE)
# These always carry Retry-After (seconds), as Graph and Box send it.
RETRY_AFTER_ERRORS = frozenset({"throttled", "service_unavailable"})


def error_name(name: str) -> str | None:
    """The neutral name for a neutral name or any API's own code (TooManyRequests, rate_limit_exceeded)."""
    if name in ERROR_NAMES:
        return name
    for profile in (*PROFILES, generic):
        for neutral, (_, code, _, _) in profile.CATALOGUE.items():
            if code == name:
                return neutral
    return None


def named_error(
    profile,
    name: str,
    request_headers=(),
    message: str | None = None,
    retry_after: float | None = None,
    context: dict | None = None,
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body of a catalogue error, in the profile's envelope (`context`: what the
    API says of the error beside its message, Box's context_info)."""
    neutral = error_name(name) or "server_error"
    status, code, default_message, extra = profile.CATALOGUE[neutral]
    headers, body = profile.error(status, code, message or default_message, request_headers, context)
    if neutral in profile.EMPTY_BODY_ERRORS and not message:
        headers, body = [(k, v) for k, v in headers if k.lower() != "content-type"], b""
    headers = [*headers, *extra]
    if retry_after is None and neutral in RETRY_AFTER_ERRORS:
        retry_after = 1
    if retry_after is not None:
        headers.append(("Retry-After", str(max(0, math.ceil(retry_after)))))
    return status, headers, body
