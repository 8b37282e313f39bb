"""What a resource module declares (sim/registry.py lists them)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..core.paths import Routes
    from ..core.yamlfile import Checker
    from .http import Later, Reply, SimRequest
    from .world import World

# Its part of a world file, {"graph": {...}, "box": {...}}, read into the world (blobs: the folder
# beside the file) and written back.
Load = Callable[["Checker", "World", dict[str, dict], Path | None], None]
Dump = Callable[["World"], dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class ResourceModule:
    name: str  # what it simulates, for the start-up line: "Graph print task definition(s)"
    on_host: Callable[[str], bool]  # the hosts of its routes: it is offered no other request
    handle: Callable[[World, SimRequest], Reply | Later | None]  # its answer, or None: not one of its routes
    routes: tuple[Routes, ...]  # its routes, by host (core/paths.py, the compiler scenario rules use too)
    # The world file's keys it reads, with their JSON Schema: {"graph": {"taskDefinitions": {...}}}
    # (sim/world_schema.py builds the world file's schema from these and the spec models).
    schema: dict[str, dict[str, dict]]
    count: Callable[[World], int]  # how many of what it simulates the world holds
    load: Load | None = None  # reads its keys of a world file (in the registry's order)
    dump: Dump | None = None  # and writes them back (a state file, an export): copies, the caller keeps them
    # The prefixes of the store's collections its records are kept in: a state file's database has
    # them (its YAML does not), and they are neither seeds nor exported as the store's own.
    collections: tuple[str, ...] = ()
    blobs: Callable[[World], Iterable[str]] | None = None  # the content its records name (kept while named)
    listed: Callable[[World], list[str]] | None = None  # lines naming them, for the start-up lines
