"""Redaction of secrets before anything is written: headers, query parameters, OAuth token bodies.

A secret becomes a stable placeholder, `REDACTED-<name>-<n>`: the same secret gets the same
placeholder throughout a recording, so a cassette still shows which calls shared a token. Replay
matching treats a placeholder as "any value" (see is_placeholder and matching.placeholder_fields).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

PREFIX = "REDACTED-"
# Header names that carry credentials: the standard ones and API-key style ones.
SECRET_HEADER = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie|x-box-api-key|"
    r".*(api[-_]?key|auth[-_]?token|access[-_]?token|secret|password|subscription-key|functions-key).*)$",
    re.IGNORECASE,
)
# Fields of OAuth token exchanges (Box /oauth2/token, Microsoft identity /oauth2/v2.0/token).
TOKEN_FIELDS = frozenset(
    {
        "access_token",
        "refresh_token",
        "client_secret",
        "assertion",
        "client_assertion",
        "code",
        "id_token",
        "password",
        "subject_token",
        "actor_token",
        "restricted_token",
    }
)
SECRET_QUERY = frozenset({"access_token", "client_secret", "code", "sig", "signature", "token", "api_key", "apikey"})
SWEEP_MIN_LENGTH = 8
_TOKEN_PATH = re.compile(r"/oauth2/(v2\.0/)?(token|revoke)$")


# What other tools leave where a secret was (Dev Proxy writes "REDACTED"): kept, never learned as a secret.
# Narrow on purpose: a marker matches any value on replay, so ordinary words must not look like one.
_REDACTED_ELSEWHERE = re.compile(r"^[\[<({]?\s*(redacted|\*{3,})\s*[\]>)}]?$", re.IGNORECASE)


def might_hold_placeholder(text: str | bytes) -> bool:
    """A quick test before looking for placeholders field by field."""
    if isinstance(text, bytes):
        return b"REDACTED" in text.upper() or b"***" in text or b"%2A%2A%2A" in text.upper()
    return "REDACTED" in text.upper() or "***" in text or "%2A%2A%2A" in text.upper()


def is_placeholder(value) -> bool:
    return isinstance(value, str) and (value.startswith(PREFIX) or bool(_REDACTED_ELSEWHERE.match(value)))


class Redactor:
    def __init__(self, headers=(), query=(), json_paths=()):
        self.extra_headers = {h.lower() for h in headers}
        self.query = SECRET_QUERY | {q for q in query}
        self.json_paths = [tuple(p.removeprefix("$.").split(".")) for p in json_paths]
        self._placeholders: dict[tuple[str, str], str] = {}
        self.count = 0  # values redacted so far

    def placeholder(self, name: str, secret: str) -> str:
        self.count += 1
        key = (name, secret)
        if key not in self._placeholders:
            n = sum(1 for k in self._placeholders if k[0] == name) + 1
            self._placeholders[key] = f"{PREFIX}{name}-{n}"
        return self._placeholders[key]

    def secrets_in(self, url: str, headers, content_type: str, body: bytes) -> set[str]:
        """The secret values a request carries, as they may appear in text about it (for scrub)."""
        probe = Redactor(self.extra_headers, self.query, [".".join(p) for p in self.json_paths])
        probe.headers(headers)
        probe.body(probe.url(url), content_type, body)
        out = set()
        for _, secret in probe._placeholders:
            out.add(secret)
            if secret.startswith('"'):  # a JSON path's value, dumped
                out.add(secret[1:-1])
            out |= {quote(secret, safe=""), quote_plus(secret)}
        # for cookie headers, each cookie value as well as the whole header
        out |= {v for s in list(out) for part in s.split(";") for _, _, v in [part.strip().partition("=")]}
        return {s for s in out if len(s) >= 4}

    def sweep(self, text: str) -> str:
        """Every secret seen so far, wherever else it appears (a token echoed in a body, a Location
        header), replaced by its placeholder. Short values are left: they would match by chance."""
        if not self._placeholders or not text:
            return text
        for (_, secret), placeholder in self._placeholders.items():
            if len(secret) < SWEEP_MIN_LENGTH:
                continue
            for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
                if form in text:
                    self.count += text.count(form)
                    text = text.replace(form, placeholder)
        return text

    def _secret_header(self, name: str) -> bool:
        return name.lower() in self.extra_headers or bool(SECRET_HEADER.match(name))

    def headers(self, items) -> list[tuple[str, str]]:
        out = []
        for name, value in items:
            if self._secret_header(name) and not is_placeholder(value):
                scheme, sep, credential = value.partition(" ")
                if sep and name.lower() in ("authorization", "proxy-authorization") and credential:
                    if not is_placeholder(credential):
                        value = f"{scheme} {self.placeholder(name.lower(), credential)}"  # keep "Bearer"
                else:
                    value = self.placeholder(name.lower(), value)
            out.append((name, value))
        return out

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.query:
            return url
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if not any(k in self.query for k, _ in pairs):
            return url
        pairs = [
            (k, self.placeholder(k, v) if k in self.query and v and not is_placeholder(v) else v) for k, v in pairs
        ]
        return urlunsplit(parts._replace(query=urlencode(pairs, safe="$,:@/")))

    def scrub_url(self, url: str) -> str:
        """url with secret query values shown as ***: for messages, with nothing counted."""
        if "?" not in url:
            return url
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if not any(k in self.query for k, _ in pairs):
            return url
        pairs = [(k, "***" if k in self.query and v else v) for k, v in pairs]
        return urlunsplit(parts._replace(query=urlencode(pairs, safe="$,:@/*")))

    def body(self, url: str, content_type: str, body: bytes) -> bytes:
        """Token fields of OAuth exchanges, and the user's JSON paths, in a form or JSON body."""
        token_exchange = is_token_exchange(url)
        if not body or not (token_exchange or self.json_paths):
            return body
        looks_json = body.lstrip()[:1] in (b"{", b"[")
        # Token endpoints take forms; a missing or wrong Content-Type must not let a secret through.
        if token_exchange and ("x-www-form-urlencoded" in content_type.lower() or not looks_json):
            try:
                pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                return body
            pairs = [(k, self.placeholder(k, v) if k in TOKEN_FIELDS and v else v) for k, v in pairs]
            return urlencode(pairs).encode()
        if looks_json:
            try:
                data = json.loads(body)
            except (ValueError, RecursionError):
                return body
            before = self.count
            if token_exchange and isinstance(data, dict):
                for k in TOKEN_FIELDS & data.keys():
                    if isinstance(data[k], str) and data[k] and not is_placeholder(data[k]):
                        data[k] = self.placeholder(k, data[k])
            for path in self.json_paths:
                self._redact_path(data, path)
            return json.dumps(data).encode() if self.count != before else body
        return body

    @staticmethod
    def leaves_alone(url: str, content_type: str, content_encoding: str) -> bool:
        """Whether a body with these headers can be stored as it streams, never read whole: a file's
        bytes (binary or multipart), unencoded, not a token exchange. body() redacts JSON and forms;
        text and XML are left out too, as a secret the request carried may appear in them."""
        kind = content_type.split(";", 1)[0].strip().lower()
        texty = (
            not kind
            or kind.startswith("text/")
            or kind.endswith(("/json", "+json", "/xml", "+xml", "/x-www-form-urlencoded", "/javascript"))
        )
        encoded = content_encoding.strip().lower() not in ("", "identity")
        return not (texty or encoded or is_token_exchange(url))

    def _redact_path(self, node, path: tuple[str, ...]) -> None:
        if not path:
            return
        head, rest = path[0], path[1:]
        children: list[tuple[Any, Any]] = []
        if head == "*" and isinstance(node, list):
            children = [(node, i) for i in range(len(node))]
        elif isinstance(node, dict) and head in node:
            children = [(node, head)]
        for parent, k in children:
            if rest:
                self._redact_path(parent[k], rest)
            elif parent[k] is not None and not is_placeholder(parent[k]):
                parent[k] = self.placeholder(str(path[-1] if head != "*" else "item"), json.dumps(parent[k]))


def is_token_exchange(url: str) -> bool:
    """An OAuth token or revoke endpoint: its bodies are credentials, both ways."""
    return bool(_TOKEN_PATH.search(urlsplit(url).path))


def scrub(text: str, secrets: set[str]) -> str:
    """text with every secret replaced by ***: for log lines and reports."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
