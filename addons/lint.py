"""`tapeproxy lint FILE...`: check cassettes, scenarios and world files as tapeproxy would load them,
and print every problem as file:line: message."""

from __future__ import annotations

from pathlib import Path

from .core import cassette, scenario, yamlfile
from .core.errors import InputError
from .sim.world import World


def kind_of(path: Path) -> str:
    """cassette, scenario or world, from the document's top-level keys (or its folder)."""
    try:
        data, _ = yamlfile.load(path)
    except InputError:
        data = None
    if isinstance(data, dict):
        if "interactions" in data:
            return "cassette"
        if "rules" in data:
            return "scenario"
        if "graph" in data or "box" in data:
            return "world"
    parent = path.parent.name
    return {"cassettes": "cassette", "scenarios": "scenario"}.get(parent, "cassette")


def check(path: Path) -> tuple[str, str | None]:
    """(kind, problem or None)."""
    kind = kind_of(path)
    try:
        if kind == "scenario":
            scenario.load(path)
        elif kind == "world":
            World.load(path)
        else:
            cassette.load(path)
    except InputError as e:
        return kind, str(e)
    return kind, None


def files(paths) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml")))
        else:
            out.append(p)
    return out


def run(paths) -> tuple[list[str], int]:
    """Lines to print and how many files have problems."""
    lines, bad = [], 0
    for path in files(paths):
        kind, problem = check(path)
        if problem:
            bad += 1
            lines.append(problem if problem.startswith(str(path)) else f"{path}: {problem}")
        else:
            lines.append(f"{path}: ok ({kind})")
    return lines, bad
