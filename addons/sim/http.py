"""Requests and replies of the simulation, and the JSON helpers every API module uses."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from ..core import jsonbody, profiles, ranges
from ..core.matching import normalise_path


@dataclass
class SimRequest:
    method: str
    host: str
    path: str  # without the query
    query: dict[str, str] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def make(cls, method: str, host: str, path_and_query: str, headers=(), body: bytes = b"") -> SimRequest:
        path, _, query = path_and_query.partition("?")
        return cls(
            method.upper(),
            host.lower().rstrip("."),  # `graph.microsoft.com.` is the same host
            normalise_path(path),
            dict(parse_qsl(query, keep_blank_values=True)),
            list(headers),
            body or b"",
        )

    @classmethod
    def of(cls, request) -> SimRequest:
        """A proxied request (mitmproxy's http.Request) as the simulation and the spec answers read
        it: the one place a flow becomes a request of theirs."""
        body = request.get_content(strict=False) or b""
        return cls.make(request.method, request.host, request.path, request.headers.items(multi=True), body)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def json(self) -> Any:
        """The JSON body; anything else is the API's 400 (ApiError bad_request)."""
        if not self.body.strip():
            raise ApiError("bad_request", "the request body is empty; a JSON object is expected")
        try:
            return jsonbody.loads(self.body)
        except jsonbody.TooComplex as e:
            raise ApiError("too_large", f"tapeproxy: {e}") from None
        except ValueError as e:
            raise ApiError("bad_request", f"the request body is not valid JSON: {e}") from None
        except RecursionError:
            raise ApiError("bad_request", "the request body is not valid JSON: nested too deeply") from None

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class Later:
    """An answer that needs work too heavy for the event loop (hashing or joining file content):
    whoever handles the request runs `work` in a worker thread, and it returns the Reply (or raises
    ApiError). `work` takes the world's lock itself, only to read and change the world, never
    while it hashes, so the other clients are served meanwhile."""

    work: Callable[[], Reply]


class ApiError(Exception):
    """An error reply in the API's own envelope: raised by handlers, turned into a Reply by the router."""

    def __init__(
        self, name: str, message: str | None = None, extra_headers=(), code: str = "", status: int = 0, context=None
    ):
        super().__init__(message or name)
        self.name = name  # the catalogue's neutral name: it gives the status (and the code, unless `code`)
        self.message = message
        self.extra_headers = list(extra_headers)
        self.code = code  # an endpoint's own code where the API documents one (Box's digest_mismatch)
        self.status = status  # with `code`: a status the catalogue has no name for (416)
        self.context = context


def error_reply(profile, request: SimRequest, err: ApiError) -> Reply:
    if err.code:
        status = err.status or profile.CATALOGUE[err.name][0]
        headers, body = profile.error(status, err.code, err.message or err.code, request.headers, err.context)
    else:
        status, headers, body = profiles.named_error(
            profile, err.name, request.headers, err.message, context=err.context
        )
    headers = [*headers, *err.extra_headers]
    return Reply(status, headers, body)


def content_reply(req: SimRequest, content: bytes, name: str, etag: str, headers=()) -> Reply:
    """A download host's answer: the bytes, typed by the file's name, or the 206, 416 or 304 that
    Range and If-None-Match ask for."""
    headers = [
        ("Content-Type", mimetypes.guess_type(name)[0] or "application/octet-stream"),
        *headers,
        ("Accept-Ranges", "bytes"),
        ("ETag", f'"{etag}"'),
    ]
    narrowed = ranges.narrow("GET", req.headers, 200, headers, content)
    return Reply(*narrowed) if narrowed else Reply(200, headers, content)


def json_reply(status: int, data: Any, headers=()) -> Reply:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Reply(status, [("Content-Type", "application/json"), *headers], body)
