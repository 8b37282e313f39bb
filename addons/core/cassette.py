"""vcrpy version-1 cassettes: load and validate into an immutable interaction model.

vcrpy builds `Request(**interaction["request"])`, so tapeproxy's own per-interaction fields live
beside `request`/`response` (under `tapeproxy:`), never inside `request`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import digestfiles, matching, yamlfile
from .errors import InputError

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    method: str
    uri: str
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class RecordedResponse:
    status: int
    reason: str
    headers: Headers
    body: bytes
    # A body kept beside the cassette (--body-files): read, and checked, only when served.
    body_file: digestfiles.Named | None = None


@dataclass(frozen=True, slots=True)
class Interaction:
    request: RecordedRequest
    response: RecordedResponse
    source: str  # cassette file name, for messages
    number: int  # 1-based position in its cassette
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def label(self) -> str:
        return f"{self.source} #{self.number}"


class _Checker(yamlfile.Checker):
    """Validates one cassette document."""

    def headers(self, value: Any, keys: tuple) -> Headers:
        if value is None:
            return ()
        if isinstance(value, list):  # old vcrpy: a list of [name, value] pairs (often !!python/tuple)
            value = self._pairs(value, keys)
        value = self.mapping(value, keys, "headers")
        out: list[tuple[str, str]] = []
        for name, values in value.items():
            if not isinstance(values, list):
                values = [values]
            for v in values:
                if not isinstance(v, (str, int, float)):
                    raise self.fail(
                        keys + (name,),
                        f"header {name!r} has {yamlfile.kind(v)} value",
                        "header values are strings or lists of strings",
                    )
                out.append((str(name), str(v)))
        return tuple(out)

    def _pairs(self, pairs: list, keys: tuple) -> dict:
        out: dict = {}
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], str)):
                raise self.fail(
                    keys + (i,),
                    f"header entry {i + 1} is not a [name, value] pair",
                    "headers are a mapping of name to values, or a list of [name, value] pairs",
                )
            values = pair[1] if isinstance(pair[1], list) else [pair[1]]
            out.setdefault(pair[0], []).extend(values)
        return out

    def body(self, value: Any, keys: tuple) -> bytes:
        if value is None:
            return b""
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            return value.encode("utf-8")
        raise self.fail(keys, f"body must be a string, !!binary or null, got {yamlfile.kind(value)}")

    def body_file(self, ref: Any, keys: tuple, which: str, folder: Path) -> digestfiles.Named:
        """A body stored beside the cassette, named by its SHA-256 and size: found, and of that size."""
        keys = keys + ("tapeproxy", "body_files", which)
        ref = self.mapping(ref, keys, f"body_files.{which}")
        name, size = ref.get("sha256"), ref.get("size")
        if not isinstance(name, str) or not isinstance(size, int) or isinstance(size, bool):
            raise self.fail(keys, f"body_files.{which} needs sha256 (text) and size (bytes)")
        try:
            return digestfiles.find(folder, name, size)
        except digestfiles.Unusable as e:
            raise self.fail(keys, f"{which} body: {e}") from None

    def content(self, named: digestfiles.Named, keys: tuple, which: str) -> bytes:
        """A body file's content, checked against its name."""
        try:
            return named.read()
        except digestfiles.Unusable as e:
            raise self.fail(keys + ("tapeproxy", "body_files", which), f"{which} body: {e}") from None

    def request(self, raw: Any, keys: tuple) -> RecordedRequest:
        raw = self.mapping(raw, keys, "request")
        for required in ("method", "uri"):
            if not isinstance(raw.get(required), str):
                raise self.fail(
                    keys,
                    f"request needs a string {required!r}",
                    "e.g. method: GET, uri: https://graph.microsoft.com/v1.0/...",
                )
        uri = raw["uri"]
        problem = matching.uri_problem(uri)
        if problem:
            raise self.fail(
                keys + ("uri",), f"uri {uri!r}: {problem}", "an absolute URL, e.g. https://graph.microsoft.com/v1.0/..."
            )
        return RecordedRequest(
            raw["method"].upper(),
            uri,
            self.headers(raw.get("headers"), keys + ("headers",)),
            self.body(raw.get("body"), keys + ("body",)),
        )

    def response(self, raw: Any, keys: tuple) -> RecordedResponse:
        raw = self.mapping(raw, keys, "response")
        if "status_code" in raw and "status" not in raw:  # vcrpy's legacy httpx layout
            raw = {
                "status": {"code": raw["status_code"]},
                "headers": raw.get("headers"),
                "body": {"string": raw.get("content")},
            }
        status = self.mapping(raw.get("status"), keys + ("status",), "response status")
        code = status.get("code")
        if not isinstance(code, int) or not 100 <= code <= 599:
            raise self.fail(keys + ("status",), f"status code must be an integer 100-599, got {code!r}")
        body = raw.get("body")
        if isinstance(body, dict):
            body = body.get("string")
        return RecordedResponse(
            code,
            str(status.get("message") or ""),
            self.headers(raw.get("headers"), keys + ("headers",)),
            self.body(body, keys + ("body",)),
        )


# A cassette's top level holds `interactions:`: in block YAML at the start of a line, in JSON after "{".
_CASSETTE_KEY = re.compile(r'^(?:\{\s*)?"?interactions"?\s*:', re.MULTILINE)


def looks_like_cassette(path: str | Path) -> bool:
    """Whether a file found in a directory is meant as a cassette, without parsing it.

    An unreadable file counts as one, so that loading it reports why.
    """
    try:
        text = Path(path).read_text("utf-8", errors="replace")
    except OSError:
        return True
    return bool(_CASSETTE_KEY.search(text))


def load(path: str | Path, verify_bodies: bool = False) -> list[Interaction]:
    """Load one cassette file. Raises InputError with file and line on anything malformed."""
    data, text = yamlfile.load(path)
    return from_document(data, text, str(path), verify_bodies)


def from_document(data, text: str, path: str, verify_bodies: bool = False) -> list[Interaction]:
    """The interactions of a parsed cassette (data and its text, from yamlfile.load), validated.

    A response body kept as a file is found and its size checked; its content is checked against
    its SHA-256 only with verify_bodies (lint), else when it is served, so start-up reads no body."""
    check = _Checker(path, text)
    if data is None:
        raise InputError("empty cassette", path, 1, "a cassette holds `interactions: [...]` and `version: 1`")
    data = check.mapping(data, (), "a cassette")
    if "interactions" not in data:
        raise check.fail((), "no 'interactions' list", "a vcrpy cassette holds `interactions:` and `version: 1`")
    if data.get("version", 1) != 1:
        raise check.fail(
            ("version",), f"unsupported cassette version {data.get('version')!r}", "vcrpy writes version: 1"
        )
    raw_list = data["interactions"] or []
    if not isinstance(raw_list, list):
        raise check.fail(("interactions",), "'interactions' must be a list")
    name = Path(path).name
    out = []
    contents: dict[str, bytes] = {}  # request body files by digest: each read, checked and held once
    for i, raw in enumerate(raw_list):
        keys = ("interactions", i)
        raw = check.mapping(raw, keys, "an interaction")
        for part in ("request", "response"):
            if part not in raw:
                raise check.fail(keys, f"interaction {i + 1} has no {part!r}")
        extra = raw.get("tapeproxy") or {}
        extra = extra if isinstance(extra, dict) else {}
        request = check.request(raw["request"], keys + ("request",))
        response = check.response(raw["response"], keys + ("response",))
        if extra.get("body_files") is not None:
            files = check.mapping(extra["body_files"], keys + ("tapeproxy", "body_files"), "body_files")
            folder = bodies_folder(path)
            if "request" in files:  # matching needs it: read (and checked) now
                named = check.body_file(files["request"], keys, "request", folder)
                if named.sha256 not in contents:
                    contents[named.sha256] = check.content(named, keys, "request")
                request = replace(request, body=contents[named.sha256])
            if "response" in files:  # read and checked when served: until then it costs no memory
                named = check.body_file(files["response"], keys, "response", folder)
                if verify_bodies:
                    check.content(named, keys, "response")
                response = replace(response, body=b"", body_file=named)
        out.append(Interaction(request, response, name, i + 1, extra))
    return out


def bodies_folder(path: str | Path) -> Path:
    """Where a cassette's bodies stored as files are (--body-files): `<cassette>.bodies/`."""
    return Path(f"{path}.bodies")


def body_file_note(name: str, size: int) -> str:
    """What the cassette's own body field says of a body stored as a file (vcrpy serves this text)."""
    return f"tapeproxy body file: {size} bytes in the .bodies folder beside this cassette, named {name}"
