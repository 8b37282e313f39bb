"""Build plain Python data straight from libyaml's event stream.

PyYAML's loaders compose a node tree (two Mark objects per node) before constructing anything:
for a 10,000-interaction cassette that tree is most of the load time and most of the peak memory.
Building from events skips it. Anything this builder does not handle the way SafeLoader would
(an unknown tag, a merge key, a complex key, several documents) raises Unhandled, and the caller
loads the text with the full loader instead, which gives the exact result or the exact error.
"""

from __future__ import annotations

from typing import Any

from yaml import YAMLError, nodes
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
    StreamStartEvent,
)

STR = "tag:yaml.org,2002:str"
MAP = "tag:yaml.org,2002:map"
SEQ = "tag:yaml.org,2002:seq"


class Unhandled(Exception):
    """The document needs the full loader."""


# Deeper than this, a document is hostile or broken: Python's recursion (ours, PyYAML's, json's) ends
# near 1,000 frames, and no cassette, scenario or world nests a tenth as deep.
MAX_DEPTH = 200


def _refuse(problem: str, mark) -> ConstructorError:
    return ConstructorError(None, None, problem, mark)


def _given_twice(mapping: dict, key) -> bool:
    """Whether `key` (found in `mapping`) was given before as the same kind of value: `1` and
    `true` are equal in Python but two keys in YAML (the later one wins, as with PyYAML)."""
    return any(k == key and k.__class__ is key.__class__ for k in mapping)


def build(loader) -> Any:
    """The single document `loader` (a PyYAML loader instance) reads, and whether it has aliases.

    Plain scalars resolve as the loader's resolver would; explicit tags are allowed only when the
    loader has a constructor for them. A key given twice, or nesting deeper than MAX_DEPTH, is a
    ConstructorError at its line. Aliases share the anchored value (as PyYAML does): the caller
    bounds what they expand to (yamlfile.check_expansion).
    """
    constructors = loader.yaml_constructors
    # A plain scalar whose first character no implicit resolver looks at is a string.
    first_chars = loader.yaml_implicit_resolvers.keys()
    if None in first_chars or loader.yaml_path_resolvers:
        raise Unhandled
    get = loader.get_event
    resolve = loader.resolve
    anchors: dict[str, Any] = {}
    resolved: dict[str, Any] = {}  # plain scalar -> its value, for the few that resolve at all

    def construct(tag: str, value: str, event) -> Any:
        constructor = constructors.get(tag)
        if constructor is None:
            raise Unhandled
        try:
            return constructor(loader, nodes.ScalarNode(tag, value))
        except YAMLError:
            raise Unhandled from None  # the full loader reports it with its line
        except (ValueError, TypeError, OverflowError) as e:  # the full loader lets these escape unmarked
            raise ConstructorError(
                None, None, f"{value!r} is not a valid {tag.rsplit(':', 1)[-1]} ({e})", event.start_mark
            ) from None

    if get().__class__ is not StreamStartEvent:
        raise Unhandled
    event = get()
    if event.__class__ is StreamEndEvent:
        return None, False
    if event.__class__ is not DocumentStartEvent:
        raise Unhandled
    # One loop, no calls per event on the common path: this runs ~30 times per interaction.
    root: Any = None
    container: Any = None  # the open list or dict; None until the root opens
    is_map = False
    key: Any = _NO_KEY  # in a mapping: the key read, waiting for its value
    key_mark = None
    stack: list = []  # the enclosing (container, is_map), to return to at the end of this one
    aliased = False
    while True:
        event = get()
        cls = event.__class__
        if cls is ScalarEvent:
            tag, value = event.tag, event.value
            if tag is None:
                if event.implicit[0] and (not value or value[0] in first_chars):
                    hit = resolved.get(value, _NO_KEY)
                    if hit is _NO_KEY:
                        tag = resolve(nodes.ScalarNode, value, event.implicit)
                        hit = value if tag == STR else construct(tag, value, event)
                        if hit.__class__ not in (list, dict):  # only immutable values are shared
                            resolved[value] = hit
                    value = hit
            elif tag != STR and tag != "!":
                value = construct(tag, value, event)
            if event.anchor is not None:
                anchors[event.anchor] = value
        elif cls is MappingStartEvent or cls is SequenceStartEvent:
            if event.tag not in (None, "!", MAP if cls is MappingStartEvent else SEQ):
                raise Unhandled
            value = {} if cls is MappingStartEvent else []
            if event.anchor is not None:
                anchors[event.anchor] = value
            if container is None:
                root = value
            elif not is_map:
                container.append(value)
            elif key is _NO_KEY:
                raise Unhandled  # a complex key
            else:
                if key in container and _given_twice(container, key):
                    raise _refuse(f"key {key!r} appears twice in this mapping", key_mark)
                container[key] = value
                key = _NO_KEY
            if len(stack) >= MAX_DEPTH:
                raise _refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            stack.append((container, is_map))
            container, is_map = value, cls is MappingStartEvent
            continue
        elif cls is MappingEndEvent or cls is SequenceEndEvent:
            container, is_map = stack.pop()
            if container is None:
                break
            continue
        elif cls is AliasEvent:
            if event.anchor not in anchors:
                raise Unhandled  # the full loader words the error
            value = anchors[event.anchor]
            aliased = True
        else:
            raise Unhandled
        if container is None:
            root = value
            break
        if not is_map:
            container.append(value)
        elif key is not _NO_KEY:
            if key in container and _given_twice(container, key):
                raise _refuse(f"key {key!r} appears twice in this mapping", key_mark)
            container[key] = value
            key = _NO_KEY
        elif value.__class__ in (list, dict):
            raise Unhandled  # an alias of a collection as a key
        else:
            key, key_mark = value, event.start_mark
    if get().__class__ is not DocumentEndEvent or get().__class__ is not StreamEndEvent:
        raise Unhandled  # several documents: the full loader says so
    return root, aliased


_NO_KEY = object()
