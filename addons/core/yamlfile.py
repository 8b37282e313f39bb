"""Safe, fast YAML loading with file:line errors (libyaml's C loader where available)."""

from __future__ import annotations

import difflib
import gc
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from . import yamlevents
from .errors import InputError

try:
    _SafeLoader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _SafeLoader = yaml.SafeLoader


class Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe loader that also reads the harmless tags older vcrpy cassettes carry, as vcrpy's own
    loader does: strings, tuples (as lists), and request bodies saved as a BytesIO or an iterator
    (as their bytes). Each constructor is bound to its exact tag and builds only plain data; every
    other python tag stays an error."""

    def construct_mapping(self, node, deep=False):
        """A key given twice is a mistake (a linter says so), not a silent overwrite."""
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                    if (key_node.tag, key_node.value) in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"key {key_node.value!r} appears twice in this mapping", key_node.start_mark
                        )
                    seen.add((key_node.tag, key_node.value))
        return super().construct_mapping(node, deep)


def _python_str(loader, node):
    return loader.construct_scalar(node)


def _python_tuple(loader, node):
    return loader.construct_sequence(node, deep=True)


def _as_bytes(chunks, node) -> bytes:
    """Body chunks (bytes, strings or ints, as old recorders saved them) as one bytes value."""
    if isinstance(chunks, (bytes, str)):
        chunks = [chunks]
    out = bytearray()
    for chunk in chunks or ():
        if isinstance(chunk, str):
            out += chunk.encode("utf-8")
        elif isinstance(chunk, bytes):
            out += chunk
        elif isinstance(chunk, int) and 0 <= chunk < 256:
            out.append(chunk)
        else:
            raise yaml.constructor.ConstructorError(
                None, None, "a body chunk must be bytes or text, got " + kind(chunk), node.start_mark
            )
    return bytes(out)


def _python_bytesio(loader, node):
    """`!!python/object/new:_io.BytesIO {state: [BODY, ...]}`: the buffer's content."""
    state = loader.construct_mapping(node, deep=True).get("state") or [b""]
    return _as_bytes(state[0] if isinstance(state, (list, tuple)) and state else b"", node)


def _python_iter(loader, node):
    """`!!python/object/apply:builtins.iter {args: [[CHUNK, ...]]}`: the chunks, joined."""
    args = loader.construct_mapping(node, deep=True).get("args") or [[]]
    return _as_bytes(args[0] if isinstance(args, (list, tuple)) and args else b"", node)


Loader.add_constructor("tag:yaml.org,2002:python/str", _python_str)
Loader.add_constructor("tag:yaml.org,2002:python/unicode", _python_str)
Loader.add_constructor("tag:yaml.org,2002:python/tuple", _python_tuple)
Loader.add_constructor("tag:yaml.org,2002:python/object/new:_io.BytesIO", _python_bytesio)
Loader.add_constructor("tag:yaml.org,2002:python/object/apply:builtins.iter", _python_iter)


def read_text(path: str | Path) -> str:
    """Read a UTF-8 file, turning I/O and encoding failures into InputError."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a YAML file", str(path)) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", str(path)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InputError(
            f"not valid UTF-8 (byte 0x{raw[e.start]:02x})",
            str(path),
            line,
            "save the file as UTF-8; binary bodies belong in !!binary values",
        ) from None


def load(path: str | Path) -> tuple[Any, str]:
    """Parse a YAML file safely. Returns (data, text); text is kept to locate later errors."""
    return parse(read_text(path), str(path))


def parse(text: str, path: str) -> tuple[Any, str]:
    """Parse YAML text safely; `path` names it in errors."""
    try:
        return _load(text), text
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        problem = e.problem or "invalid YAML"
        hint = ""
        if "could not determine a constructor" in str(e):
            problem = f"tag {_tag_of(str(e))} is not allowed (tapeproxy loads YAML safely)"
        elif problem == "but found another document":
            problem = "more than one YAML document (---) in the file; tapeproxy reads exactly one"
        elif "expected ',' or '}'" in problem:
            hint = 'inside { } a value holding { or } needs quotes, e.g. {path: "/2.0/tasks/{task_id}"}'
        raise InputError(problem, str(path), line, hint) from None
    except yaml.YAMLError as e:
        raise InputError(f"invalid YAML: {e}", str(path)) from None


@contextmanager
def gc_paused():
    """Building a big document allocates containers by the hundred thousand and frees none: the
    cyclic collector's passes over the growing heap would find nothing, so they wait until after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# What aliases may expand a document to, in nodes and characters: a few times the text, and at least
# this much. A 9-level "billion laughs" of 667 bytes expands to 387 million; read by code that walks
# it (a JSON body, a deep copy of a world), it would take gigabytes and stall every client.
MIN_EXPANSION = 10_000_000


def _load(text: str) -> Any:
    with gc_paused():
        loader = Loader(text)
        try:
            data, aliased = yamlevents.build(loader)
        except yamlevents.Unhandled:
            data, aliased = None, None
        finally:
            loader.dispose()
        if aliased is None:  # the full loader, which composes recursively: the depth is checked first
            too_deep = _first_mark(text, "depth")
            if too_deep is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"nested more than {yamlevents.MAX_DEPTH} levels deep", too_deep
                )
            data = yaml.load(text, Loader=Loader)
            aliased = "*" in text
        if aliased:
            check_expansion(data, text)
        return data


def check_expansion(data: Any, text: str) -> None:
    """Refuse a document whose aliases expand it past max(4 x its text, MIN_EXPANSION).

    Aliases share one value, so the document itself is small; this adds up, once per distinct
    value, what a walk over it would visit, and stops as soon as the bound is passed.
    """
    limit = max(4 * len(text), MIN_EXPANSION)
    sizes: dict[int, int] = {}

    def size(node) -> int:
        if node.__class__ is dict or node.__class__ is list:
            known = sizes.get(id(node))
            if known is not None:
                return known
            sizes[id(node)] = limit + 1  # a value that contains itself never ends
            items = (*node.keys(), *node.values()) if node.__class__ is dict else node
            total = 1
            for item in items:
                total += size(item)
                if total > limit:
                    break
            sizes[id(node)] = total
            return total
        return len(node) + 1 if node.__class__ in (str, bytes) else 1

    if size(data) > limit:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"aliases expand this document past {limit:,} nodes and characters (an alias bomb?)",
            _first_mark(text, "alias"),
        )


def _first_mark(text: str, what: str):
    """Where the first alias is, or where nesting passes MAX_DEPTH: for the error's line."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=Loader):
            if what == "alias" and isinstance(event, yaml.AliasEvent):
                return event.start_mark
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if what == "depth" and depth > yamlevents.MAX_DEPTH:
                    return event.start_mark
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return None


def _tag_of(message: str) -> str:
    start = message.find("'")
    end = message.find("'", start + 1)
    return message[start + 1 : end] if start >= 0 and end > start else "?"


def line_of(text: str, keys: tuple) -> int | None:
    """Line (1-based) of the node reached by following keys (str for mappings, int for sequences).

    Only called on the error path, so re-composing the document costs nothing on a good load.
    """
    node = _node_at(text, keys)
    return node.start_mark.line + 1 if node is not None else None


def item_lines(text: str, keys: tuple) -> list[int]:
    """Line (1-based) of each item of the sequence at keys, from one composition of the text."""
    node = _node_at(text, keys, exact=True)
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


def _node_at(text: str, keys: tuple, exact: bool = False):
    """The node at keys; else (unless exact) the deepest one on the way."""
    try:
        node = yaml.compose(text, Loader=Loader)
    except yaml.YAMLError:
        return None
    for key in keys:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            return None if exact else node
        node = nxt
    return node


def yaml_files(paths) -> list[Path]:
    """Files as given; a directory stands for the .yaml/.yml files under it, at any depth (vcrpy's
    and pytest-recording's cassette folders nest by test module), in path order, skipping hidden
    folders such as .git and .venv. What `replay DIR` serves and `lint DIR` checks."""
    out: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            out.append(path)
            continue
        out.extend(
            sorted(
                p
                for p in path.rglob("*")
                if p.suffix in (".yaml", ".yml")
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts[:-1])
            )
        )
    return out


def closest(word: Any, choices) -> str | None:
    """The choice a mistyped word most likely meant (for "did you mean ...?"), or None."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return close[0] if close else None


def kind(value: Any) -> str:
    """What a YAML value is, in words for error messages."""
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bytes: "binary",
        type(None): "null",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
    }.get(type(value), type(value).__name__)


class Checker:
    """Validates one YAML document; errors carry the file and the offending line."""

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text

    def fail(self, keys: tuple, message: str, hint: str = "") -> InputError:
        return InputError(message, self.path, line_of(self.text, keys), hint)

    def keys(self, value: dict, allowed: set, keys: tuple, what: str) -> None:
        """Refuse a key not in allowed, naming the one it most likely meant."""
        for k in value:
            if k not in allowed:
                close = closest(k, sorted(allowed))
                hint = f"did you mean {close!r}?" if close else "allowed: " + ", ".join(sorted(allowed))
                raise self.fail(keys + (k,), f"unknown key {k!r} in {what}", hint)

    def mapping(self, value: Any, keys: tuple, what: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(keys, f"{what} must be a mapping, got {kind(value)}")
        return value
