"""HAR files (browser dev tools, Dev Proxy's HarGeneratorPlugin, mitmproxy's hardump) as Exchanges.

HAR holds decoded text, so a recorded Content-Encoding is stale; recording.entry() drops it.
Entries that cannot become an interaction (failed requests, websockets, CONNECT) are skipped
with a reason rather than failing the whole import.
"""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

from .errors import InputError
from .recording import Exchange
from .redact import Redactor


@dataclass
class HarImport:
    exchanges: list[tuple[int, Exchange]] = field(default_factory=list)  # (1-based entry number, exchange)
    skipped: list[str] = field(default_factory=list)  # "entry N (...): reason"
    bodies_missing: int = 0  # responses whose body the file left out


def load(path: str, redactor: Redactor | None = None) -> HarImport:
    """The file's exchanges; redactor (for its query names) keeps secrets out of skip messages."""
    show_url = (redactor or Redactor()).scrub_url
    try:
        with open(path, "rb") as f:
            raw = f.read()
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise InputError(
            f"not UTF-8 at byte {e.start}", path, raw[: e.start].count(b"\n") + 1, "a HAR file is UTF-8 JSON"
        ) from None
    except json.JSONDecodeError as e:
        raise InputError(
            f"invalid JSON: {e.msg} (column {e.colno})", path, e.lineno, "expected a HAR file: JSON with log.entries"
        ) from None
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) and isinstance(doc.get("log"), dict) else None
    if not isinstance(entries, list):
        raise InputError("no log.entries list", path, 1, 'a HAR file is JSON with {"log": {"entries": [...]}}')
    creator = doc["log"].get("creator")
    by_mitmproxy = isinstance(creator, dict) and str(creator.get("name", "")).lower() == "mitmproxy"
    out = HarImport()
    for n, item in enumerate(entries, 1):
        try:
            exchange, body_missing = _exchange(item, by_mitmproxy)
        except _Skip as skip:
            what = ""
            if isinstance(item, dict) and isinstance(item.get("request"), dict):
                request = item["request"]
                what = f" ({request.get('method', '?')} {show_url(str(request.get('url', '?')))})"
            out.skipped.append(f"entry {n}{what}: {skip}")
            continue
        out.exchanges.append((n, exchange))
        out.bodies_missing += body_missing
    return out


class _Skip(Exception):
    pass


def _exchange(e, by_mitmproxy: bool) -> tuple[Exchange, bool]:
    if not isinstance(e, dict) or not isinstance(e.get("request"), dict):
        raise _Skip("not an entry with a request")
    req, resp = e["request"], e.get("response")
    method, url = req.get("method"), req.get("url")
    if e.get("_resourceType") == "websocket" or e.get("_webSocketMessages"):
        raise _Skip("a websocket")
    if not isinstance(method, str) or not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise _Skip("no method or http(s) url")
    if method.upper() == "CONNECT":
        raise _Skip("a CONNECT tunnel, not a request")
    if not isinstance(resp, dict) or not isinstance(resp.get("status"), int) or not 100 <= resp["status"] <= 599:
        error = resp.get("_error") if isinstance(resp, dict) else None
        raise _Skip("no response" + (f" ({error})" if error else " (the request failed or was blocked)"))
    response_headers = _headers(resp.get("headers"))
    body, missing = _response_body(resp.get("content"), _charset(response_headers, by_mitmproxy))
    request_headers = _headers(req.get("headers"))
    post = req.get("postData")
    if (
        isinstance(post, dict)
        and post.get("mimeType")
        and not any(k.lower() == "content-type" for k, _ in request_headers)
    ):
        request_headers.append(("Content-Type", str(post["mimeType"])))  # where the HAR writer put it
    return Exchange(
        method.upper(),
        url,
        request_headers,
        _request_body(post),
        resp["status"],
        str(resp.get("statusText") or ""),
        response_headers,
        body,
        _started(e.get("startedDateTime")),
        round(e["time"]) if isinstance(e.get("time"), (int, float)) and e["time"] > 0 else None,
    ), missing


def _headers(items) -> list[tuple[str, str]]:
    out = []
    for h in items or []:
        if isinstance(h, dict):
            name, value = h.get("name"), h.get("value")
        elif isinstance(h, (list, tuple)) and len(h) == 2:  # Slack writes [name, value]
            name, value = h
        else:
            continue
        # HTTP/2 pseudo-headers (Chrome lists :authority, :path...) are not headers.
        if isinstance(name, str) and not name.startswith(":") and value is not None:
            out.append((name, str(value)))
    return out


def _charset(headers, by_mitmproxy: bool) -> str:
    """The charset the HAR's writer decoded the body with, to get the same bytes back."""
    ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
    for part in ctype.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip('"')
    # mitmproxy's hardump decodes undeclared non-JSON text as latin-1; browsers hand over Unicode text.
    return "latin-1" if by_mitmproxy and "json" not in ctype.lower() else "utf-8"


def _encode(text: str, charset: str) -> bytes:
    try:
        return text.encode(charset)
    except (LookupError, UnicodeEncodeError):
        return text.encode("utf-8", "surrogateescape")


def _response_body(content, charset: str) -> tuple[bytes, bool]:
    if not isinstance(content, dict):
        return b"", False
    text = content.get("text")
    if not isinstance(text, str):
        return b"", bool(content.get("size"))  # left out: Dev Proxy without includeResponse, sanitised exports
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(text), False
        except ValueError:
            raise _Skip("content.text is not valid base64") from None
    return _encode(text, charset), False


def _request_body(post) -> bytes:
    if not isinstance(post, dict):
        return b""
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") == "base64":
            try:
                return base64.b64decode(text)
            except ValueError:
                raise _Skip("postData.text is not valid base64") from None
        return text.encode("utf-8", "surrogateescape")
    params = post.get("params")
    if isinstance(params, list):  # HAR lets a form be given as params instead of text
        return urlencode([(p.get("name", ""), p.get("value", "")) for p in params if isinstance(p, dict)]).encode()
    return b""


def _started(value) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
