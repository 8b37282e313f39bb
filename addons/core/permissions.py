"""Graph permissions, from the model derived from Microsoft's permissions reference
(core/spec/permissions_model.py): which permissions allow a method on a path, in which kind of
token, and which of them is the least privileged. Pure: what the enforcement, the
minimal-permissions report and `tapeproxy permissions` share.

A token's kind: "delegated" (its `scp`, a user signed in) or "application" (its `roles`).
"""

from __future__ import annotations

import functools
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

from . import jwt

MODEL = Path(__file__).resolve().parent / "spec" / "permissions.json.gz"
KIND_SCHEMES = {"delegated": "DP", "application": "A"}

_VERSION = re.compile(r"^/(?:v1\.0|beta)(?=/|$)", re.IGNORECASE)
# Drive items addressed by path (`root:/a/b.txt:` and on), as the reference writes them: `root:/{id}:`.
_ITEM_PATH = re.compile(r"(root|items/[^/]+):/.*?(?::(?=/|$)|$)")
_CALL = re.compile(r"^([^(]*)\((.*)\)$")
_END = "\0"  # the trie's mark of a path that ends here (no segment is NUL)


def _segment(segment: str) -> list[str]:
    """A path segment as the model keys it: lower case, a placeholder as `*`, a function call's
    arguments by name only (`range(address=*)`), an OData key (`users('x')`) as its own segment."""
    s = segment.lower()
    if "(" not in s:  # the common case, without a regex
        return ["*"] if s.startswith("{") and s.endswith("}") else [s]
    call = _CALL.match(s)
    if call is None:
        return [s]
    name, args = call.groups()
    if args and "=" not in args:  # an entity's key in parentheses: users('x') is users/x
        return [name, "*"]
    names = [a.partition("=")[0].strip() for a in args.split(",") if a.strip()]
    return [f"{name}({','.join(f'{n}=*' for n in names)})"]


@functools.lru_cache(maxsize=4096)  # every Graph call asks it, twice; apps repeat their paths
def path_key(path: str) -> str:
    """The model's key for a reference path (`/users/{id}`) or a request's (`/v1.0/users/42`)."""
    path = _VERSION.sub("", path.partition("?")[0]).rstrip("/") or "/"
    path = _ITEM_PATH.sub(lambda m: f"{m.group(1).lower()}:/{{id}}:", path).rstrip(":")
    return "/" + "/".join(part for s in path.split("/") if s for part in _segment(s))


@dataclass(frozen=True)
class Allowed:
    """What the reference says of one method on one path."""

    path: str  # the reference's path key that matched
    by: tuple[tuple[str, str, str], ...]  # (permission, schemes allowing it here, least-privileged schemes)

    def names(self, kind: str) -> list[str]:
        """The permissions of this kind that allow it."""
        schemes = KIND_SCHEMES[kind]
        return [p for p, allow, _ in self.by if set(allow) & set(schemes)]

    def least(self, kind: str) -> list[str]:
        """The least-privileged permissions of this kind (marked so; else the lowest privilege level)."""
        schemes = KIND_SCHEMES[kind]
        marked = [p for p, _, least in self.by if set(least) & set(schemes)]
        names = marked or self.names(kind)  # the reference marks a path set; its lowest level is the least
        levels = {n: _level(n, schemes) for n in names}
        low = min(levels.values(), default=0)
        # ties (the reference marks several at one level): a permission that writes, or one that
        # is wider (a longer name says more), after the plain one: Group.ReadBasic.All first
        return sorted((n for n in names if levels[n] == low), key=lambda n: ("Write" in n, len(n), n))

    def allows(self, kind: str, held: frozenset[str] | set[str]) -> bool:
        return any(name in held for name in self.names(kind))


@functools.cache
def _model() -> dict:
    return json.loads(gzip.decompress(MODEL.read_bytes()))


@functools.cache
def _trie() -> dict:
    root: dict = {}
    for key, methods in _model()["paths"].items():
        node = root
        for part in key.split("/")[1:] if key != "/" else []:
            node = node.setdefault(part, {})
        node[_END] = (key, methods)
    return root


def _level(name: str, schemes: str) -> int:
    levels = _model()["permissions"].get(name, ["", {}, False])[1]
    return min((levels[s] for s in schemes if s in levels), default=99)


def lookup(method: str, path: str) -> Allowed | None:
    """The permissions that allow `method` on a request's `path`, None when the reference does not
    list that path and method (literal segments are preferred to placeholders)."""
    return _lookup_key(method.upper(), path_key(path))


@functools.lru_cache(maxsize=4096)  # an app calls few operations; each is walked once
def _lookup_key(method: str, key: str) -> Allowed | None:
    parts = key.split("/")[1:] if key != "/" else []
    found = _walk(_trie(), parts)
    if found is None:
        return None
    key, methods = found
    entries = methods.get(method) or (methods.get("GET") if method == "HEAD" else None)
    if not entries:
        return None
    return Allowed(key, tuple((p, allow, least) for p, allow, least in entries))


def _walk(node: dict, parts: list[str]) -> tuple[str, dict] | None:
    if not parts:
        return node.get(_END)
    head, rest = parts[0], parts[1:]
    for child in (node.get(head), node.get("*") if head != "*" else None):
        if child is not None:
            found = _walk(child, rest)
            if found is not None:
                return found
    return None


def privilege(name: str, kind: str) -> int:
    """The permission's privilege level in that kind (1 low .. 5 high; 99: it has none)."""
    return _level(name, KIND_SCHEMES[kind])


@functools.cache
def delegated_names() -> frozenset[str]:
    """The permissions a user can consent to (delegated), by name."""
    return frozenset(n for n, (schemes, _, _) in _model()["permissions"].items() if set(schemes) & set("DP"))


@functools.cache
def application_names() -> frozenset[str]:
    """The permissions an app can be granted on its own (application roles), by name."""
    return frozenset(n for n, (schemes, _, _) in _model()["permissions"].items() if "A" in schemes)


@functools.lru_cache(maxsize=256)  # an app sends one token many times; an app token's roles run to 20 KB
def token_of(authorization: str) -> tuple[str, frozenset[str]] | None:
    """The kind of an Authorization header's Graph token and the permissions it holds (None: an
    opaque token, or one with neither claim)."""
    claims = jwt.bearer_claims(authorization)
    return token_kind(claims) if claims else None


def token_kind(claims: dict) -> tuple[str, frozenset[str]] | None:
    """A Graph token's kind and the permissions it holds, from its claims (None: it has neither)."""
    if isinstance(claims.get("scp"), str) and claims["scp"].strip():
        return "delegated", frozenset(claims["scp"].split())
    if isinstance(claims.get("roles"), list):
        return "application", frozenset(str(r) for r in claims["roles"])
    return None
