"""JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): add, remove, replace, move, copy and test,
applied to a copy, all or nothing."""

from __future__ import annotations

import copy
from typing import Any

OPS = ("add", "remove", "replace", "move", "copy", "test")
MAX_OPS = 1000  # a patch is a list a person or an SDK writes; more is not a patch an API takes


class PatchError(ValueError):
    """A patch that cannot be applied: what is wrong, in the patch's own terms."""


def apply(document: Any, patch: Any) -> Any:
    """The document with the patch applied; the document itself is left as it was."""
    if not isinstance(patch, list):
        raise PatchError("a JSON Patch is a list of operations")
    if len(patch) > MAX_OPS:
        raise PatchError(f"a JSON Patch of more than {MAX_OPS} operations")
    doc = copy.deepcopy(document)
    for i, op in enumerate(patch):
        if not isinstance(op, dict) or op.get("op") not in OPS:
            raise PatchError(f"operation {i}: 'op' is one of {', '.join(OPS)}")
        doc = _one(doc, op, i)
    return doc


def _one(doc: Any, op: dict, i: int) -> Any:
    kind = op["op"]
    path = _pointer(op.get("path"), i, "path")
    if kind in ("add", "replace", "test") and "value" not in op:
        raise PatchError(f"operation {i} ({kind}): 'value' is missing")
    if kind == "test":
        if _get(doc, path, i) != op["value"]:
            raise PatchError(f"operation {i} (test): the value at {op['path']} is not the one given")
        return doc
    if kind == "remove":
        return _remove(doc, path, i)[0]
    if kind == "replace":
        _get(doc, path, i)  # it must exist
        return _add(_remove(doc, path, i)[0], path, op["value"], i)
    if kind == "add":
        return _add(doc, path, op["value"], i)
    source = _pointer(op.get("from"), i, "from")
    if kind == "move":
        if path[: len(source)] == source and len(path) > len(source):
            raise PatchError(f"operation {i} (move): a value cannot move into itself")
        doc, value = _remove(doc, source, i)
        return _add(doc, path, value, i)
    return _add(doc, path, copy.deepcopy(_get(doc, source, i)), i)  # copy


def _pointer(text: Any, i: int, field: str) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise PatchError(f"operation {i}: '{field}' is a JSON Pointer ('/name')")
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]] if text else []


def _index(container: list, token: str, i: int, adding: bool = False) -> int:
    if adding and token == "-":
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"operation {i}: {token!r} is not an index of the list")
    n = int(token)
    if n > len(container) or (n == len(container) and not adding):
        raise PatchError(f"operation {i}: index {n} is past the end of the list")
    return n


def _parent(doc: Any, path: list[str], i: int) -> Any:
    return _get(doc, path[:-1], i)


def _get(doc: Any, path: list[str], i: int) -> Any:
    here = doc
    for token in path:
        if isinstance(here, dict) and token in here:
            here = here[token]
        elif isinstance(here, list):
            here = here[_index(here, token, i)]
        else:
            raise PatchError(f"operation {i}: nothing at /{'/'.join(path)}")
    return here


def _add(doc: Any, path: list[str], value: Any, i: int) -> Any:
    if not path:
        return value
    parent = _parent(doc, path, i)
    if isinstance(parent, dict):
        parent[path[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, path[-1], i, adding=True), value)
    else:
        raise PatchError(f"operation {i}: /{'/'.join(path[:-1])} holds no object or list")
    return doc


def _remove(doc: Any, path: list[str], i: int) -> tuple[Any, Any]:
    if not path:
        return None, doc
    parent = _parent(doc, path, i)
    if isinstance(parent, dict) and path[-1] in parent:
        return doc, parent.pop(path[-1])
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, path[-1], i))
    raise PatchError(f"operation {i}: nothing at /{'/'.join(path)}")
