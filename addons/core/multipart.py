"""multipart/form-data bodies as the body matcher compares them: by their parts, never their bytes.

Every client picks a new random boundary for every upload, so two uploads of the same file never
have the same bytes. A part is (name, filename, content type, kind, value, size): a JSON part (Box's
`attributes`) compares as data, a short text field as its text, anything else (a file) by its
SHA-256. Parts compare as a multiset: their order is the client library's choice.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections import Counter
from typing import Any
from urllib.parse import unquote

Part = tuple[str, str, str, str, str, int]  # name, filename, content type, kind, value, size

TEXT_LIMIT = 1024  # a field up to this size, in UTF-8, compares and explains as its text
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_PARAM = re.compile(r'([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


def parse(raw: bytes, content_type: str) -> tuple[Part, ...] | None:
    """The parts in a canonical order, or None unless the body parses as multipart as a whole.

    The boundary is the Content-Type's, else the body's first line (recorders that filter headers
    drop the Content-Type, and vcrpy keeps the body as it was sent).
    """
    found = split(raw, content_type)
    return None if found is None else tuple(sorted(_describe(head, content) for head, content in found))


def fields(raw: bytes, content_type: str) -> list[tuple[str, str, bytes]] | None:
    """(name, filename, content) of each part in the order sent, or None unless it is multipart:
    what a server reads out of an upload."""
    found = split(raw, content_type)
    if found is None:
        return None
    out = []
    for head, content in found:
        name, filename, _ = _disposition(head)
        out.append((name, filename, content))
    return out


def split(raw: bytes, content_type: str) -> list[tuple[str, bytes]] | None:
    """(header block, content) of each part, or None unless the body is multipart as a whole."""
    found = _BOUNDARY.search(content_type) if "multipart/" in content_type.lower() else None
    if found:
        boundary = (found.group(1) or found.group(2)).encode("latin-1", "replace")
    elif content_type and "multipart/" not in content_type.lower():
        return None
    else:
        first = raw[: raw.find(b"\n") if b"\n" in raw[:80] else 80].rstrip(b"\r")
        if not (first.startswith(b"--") and 3 <= len(first) <= 72 and b" " not in first.strip()):
            return None
        boundary = first[2:]
    # RFC 2046: a delimiter is a line break then --boundary (the first may open the body), so the
    # boundary's text inside a part, mid-line, is content. The first delimiter's line break says
    # which the body uses (CRLF, or a bare LF from a lenient client). Parts are found by offset and
    # each content copied once: an upload is tens of megabytes.
    delimiter = b"--" + boundary
    opening = raw.find(delimiter)
    if opening < 0 or raw[:opening].strip():
        return None
    at = opening + len(delimiter)
    newline = b"\r\n" if raw.startswith(b"\r\n", at) else b"\n" if raw.startswith(b"\n", at) else b""
    if not newline:
        return None
    separator, blank = newline + delimiter, newline * 2
    parts: list[tuple[str, bytes]] = []
    while True:
        if raw.startswith(b"--", at):  # the closing delimiter, --boundary--
            return parts if parts else None
        end = raw.find(separator, at)
        if end < 0 or not raw.startswith(newline, at):
            return None  # no closing delimiter, or no line break after a delimiter
        start = at + len(newline)
        if raw.startswith(newline, start):  # a part without headers
            parts.append(("", raw[start + len(newline) : end]))
        else:
            head_end = raw.find(blank, start, end)
            if head_end < 0:
                return None
            parts.append((raw[start:head_end].decode("latin-1"), raw[head_end + len(blank) : end]))
        at = end + len(separator)


def _disposition(head: str) -> tuple[str, str, dict[str, str]]:
    """name, filename and the headers of a part's header block."""
    headers = {}
    for line in head.splitlines():
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    params = {}
    for key, quoted, bare in _PARAM.findall(headers.get("content-disposition", "")):
        params[key.lower()] = quoted.replace('\\"', '"') if quoted or not bare else bare
    filename = params.get("filename", "")
    if not filename and "filename*" in params:  # RFC 5987: utf-8''name%20with%20spaces
        filename = unquote(params["filename*"].split("'", 2)[-1])
    return params.get("name", ""), filename, headers


def _describe(head: str, content: bytes) -> Part:
    name, filename, headers = _disposition(head)
    ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if "json" in ctype or (not filename and content.lstrip()[:1] in (b"{", b"[")):
        try:
            data = json.loads(content)
            canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
            return (name, filename, ctype, "json", canonical, len(canonical))  # its layout is not the data
        except (ValueError, RecursionError):  # nested deeper than the JSON reader goes: compared as bytes
            pass
    if not filename and len(content) <= TEXT_LIMIT:
        try:
            return (name, filename, ctype, "text", content.decode("utf-8"), len(content))
        except UnicodeDecodeError:
            pass
    return (name, filename, ctype, "sha256", hashlib.sha256(content).hexdigest(), len(content))


def data(parts: tuple[Part, ...]) -> dict[str, Any]:
    """The parts by name, for a scenario's `match.body`: JSON as data, text as text, a file as
    {filename, content_type, sha256, size}; a name given twice holds a list."""
    out: dict[str, Any] = {}
    for name, filename, ctype, kind, value, size in parts:
        if kind == "json":
            item: Any = json.loads(value)
        elif kind == "text":
            item = value
        else:
            item = {"filename": filename, "content_type": ctype, "sha256": value, "size": size}
        if name in out:
            out[name] = [*out[name], item] if isinstance(out[name], list) else [out[name], item]
        else:
            out[name] = item
    return out


def share(got: tuple[Part, ...], want: tuple[Part, ...]) -> float:
    """The share of parts two bodies have in common (for ranking near misses)."""
    g, w = Counter(got), Counter(want)
    larger = max(len(got), len(want))
    return sum((g & w).values()) / larger if larger else 1.0


def diffs(got: tuple[Part, ...], want: tuple[Part, ...]) -> list[str]:
    """What differs, part by part, named as a user would look for it."""
    from .matching import json_diffs  # the JSON wording of the body matcher (it imports this module)

    by_name_g, by_name_w = _by_name(got), _by_name(want)
    out: list[str] = []
    for name in sorted(set(by_name_g) | set(by_name_w)):
        g, w = by_name_g.get(name, []), by_name_w.get(name, [])
        label = f"body part {name!r}"
        if not w:
            out.append(f"{label} was not recorded")
        elif not g:
            out.append(f"{label} is missing")
        elif Counter(g) != Counter(w):
            if len(g) == len(w) == 1:
                out.extend(_part_diff(label, g[0], w[0], json_diffs))
            else:
                out.append(f"{label} differs ({len(g)} parts vs recorded {len(w)})")
    return out


def _by_name(parts: tuple[Part, ...]) -> dict[str, list[Part]]:
    out: dict[str, list[Part]] = {}
    for part in parts:
        out.setdefault(part[0], []).append(part)
    return out


def _part_diff(label: str, g: Part, w: Part, json_diffs) -> list[str]:
    out = []
    if g[1] != w[1]:
        out.append(f"{label} filename differs: {g[1]!r} vs recorded {w[1]!r}")
    if g[2] != w[2]:
        out.append(f"{label} content type differs: {g[2]!r} vs recorded {w[2]!r}")
    if (g[3], g[4]) != (w[3], w[4]):
        if g[3] == w[3] == "json":
            out.extend(itertools.islice(json_diffs(json.loads(g[4]), json.loads(w[4]), label), 3))
        elif g[3] == w[3] == "text":
            out.append(f"{label} differs: {_short(g[4])} vs recorded {_short(w[4])}")
        else:
            out.append(f"{label} content differs: {_content(g)} vs recorded {_content(w)}")
    return out


def _content(part: Part) -> str:
    kind, value, size = part[3], part[4], part[5]
    return f"{size} bytes, sha256 {value[:12]}" if kind == "sha256" else f"{size} bytes of {kind}"


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")
