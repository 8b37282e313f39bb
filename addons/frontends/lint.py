"""`tapeproxy lint FILE...`: check cassettes, scenarios and world files by the shipped JSON Schemas
(types, enums, unknown keys) and as tapeproxy would load them, and print every problem a file has,
each as file:line: message.

The schemas are what editors check as you type (`# yaml-language-server: $schema=...`); lint
applies the same rules, so a file an editor marks is never "ok" here, then adds what a schema
cannot say (templates, references between objects), which the loaders check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, partial
from pathlib import Path
from typing import Any

from ..core import cassette, scenario, yamlfile
from ..core.errors import InputError
from ..sim.world import World

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
LOADERS: dict[str, Callable[[Path], object]] = {
    "cassette": partial(cassette.load, verify_bodies=True),  # every body file's content too
    "scenario": scenario.load,
    "world": World.load,
}


def kind_of(data: Any, path: Path) -> str:
    """cassette, scenario or world, from the document's top-level keys (or its folder)."""
    if isinstance(data, dict):
        if "interactions" in data:
            return "cassette"
        if "rules" in data:
            return "scenario"
        if "graph" in data or "box" in data:
            return "world"
    parent = path.parent.name
    return {"cassettes": "cassette", "scenarios": "scenario"}.get(parent, "cassette")


@cache
def _validator(kind: str):
    import jsonschema  # only lint needs it: the proxy's start-up does not pay for it

    return jsonschema.Draft202012Validator(json.loads((SCHEMAS / f"{kind}.schema.json").read_text()))


def _plain(value: Any) -> Any:
    """YAML data as JSON Schema sees it: binary bodies are strings."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return "" if isinstance(value, bytes) else value


def _did_you_mean(word: str, choices) -> str:
    close = yamlfile.closest(word, choices)
    return f" (did you mean {close!r}?)" if close else ""


def schema_problems(kind: str, data: Any, text: str) -> list[tuple[int, str]]:
    """(line, message) for each thing the kind's schema forbids, innermost reason first."""
    out = []
    for error in _validator(kind).iter_errors(_plain(data)):
        for e in _leaf_errors(error):
            out.extend(_worded(e, text))
    return out


def _leaf_errors(error):
    """The most specific errors: of a oneOf/anyOf, the branch that came closest."""
    if error.context:
        import jsonschema.exceptions

        best = jsonschema.exceptions.best_match(error.context)
        return _leaf_errors(best) if best is not None else [error]
    return [error]


def _worded(e, text: str) -> list[tuple[int, str]]:
    keys = tuple(e.absolute_path)
    where = ".".join(str(k) for k in keys) or "the document"
    if e.validator == "additionalProperties":
        known = e.schema.get("properties", {})
        extra = [k for k in e.instance if k not in known]
        return [
            (yamlfile.line_of(text, keys + (k,)) or 1, f"{where}: unknown key {k!r}" + _did_you_mean(k, known))
            for k in extra
        ]
    line = yamlfile.line_of(text, keys) or 1
    if e.validator == "enum":
        return [
            (
                line,
                f"{where}: {e.instance!r} is not one of "
                + ", ".join(map(repr, e.validator_value))
                + _did_you_mean(e.instance, e.validator_value),
            )
        ]
    if e.validator == "type":
        want = e.validator_value if isinstance(e.validator_value, str) else " or ".join(e.validator_value)
        return [(line, f"{where}: expected {want}, got {yamlfile.kind(e.instance)}")]
    return [(line, f"{where}: {e.message}")]


def unknown_errors(data: Any, text: str, keys: tuple = ()) -> list[tuple[int, str]]:
    """Each `error:` of a scenario that names no error: checked apart from loading, since the
    loader stops at a file's first problem and these are the ones users mistype most."""
    out: list[tuple[int, str]] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for k, v in items:
        unknown = scenario.unknown_error(v) if k == "error" and isinstance(v, str) else None
        if unknown:
            where = ".".join(str(x) for x in (*keys, k))
            out.append((yamlfile.line_of(text, (*keys, k)) or 1, f"{where}: {unknown[0]} ({unknown[1]})"))
        elif isinstance(v, (dict, list)):
            out.extend(unknown_errors(v, text, (*keys, k)))
    return out


def check(path: Path) -> tuple[str, list[str]]:
    """(kind, every problem as 'file:line: message', in line order)."""
    try:
        data, text = yamlfile.load(path)
    except InputError as e:  # unreadable or not YAML: that is the one problem
        return kind_of(None, path), [str(e)]
    kind = kind_of(data, path)
    problems = schema_problems(kind, data, text)
    if kind == "scenario":
        problems += unknown_errors(data, text)
    try:
        LOADERS[kind](path)
    except InputError as e:  # the loader stops at its first problem; its words, with a hint, win on its line
        line = e.line or 1  # (an unknown key is a problem of its own, whatever else the line has)
        problems = [p for p in problems if p[0] != line or " unknown key " in p[1]]
        said = [p for p in problems if p[0] == line and p[1].split(" unknown key ", 1)[1].split()[0] in e.message]
        if not said:
            problems.append((line, e.message + (f" ({e.hint})" if e.hint else "")))
    return kind, [f"{path}:{line}: {message}" for line, message in sorted(problems, key=lambda p: p[0])]


def run(paths) -> tuple[list[str], int]:
    """Lines to print and how many files have problems."""
    lines, bad = [], 0
    for path in yamlfile.yaml_files(paths):
        kind, problems = check(path)
        if problems:
            bad += 1
            lines.extend(problems)
        else:
            lines.append(f"{path}: ok ({kind})")
    return lines, bad
