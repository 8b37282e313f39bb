"""The resource modules: the hand-made simulations, each declaring where it answers and what of the
world it holds; one list registers them. What no module answers is the store's (sim/graph_world.py,
sim/box_world.py), from the spec models, with no code per resource.

A module answers only requests on its hosts and routes (path templates, core/paths.py) and returns
None for the rest, so the list's order does not decide who answers: no two modules' routes take
the same path (tests/test_world.py). The world file's keys the modules read and their schema, the
collections a world file seeds, and the counts the start-up line shows, come from here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import (
    app_registrations,
    box_files,
    box_metadata,
    box_metadata_templates,
    box_tasks,
    graph_drive,
    graph_print,
    graph_print_jobs,
    seeds,
)
from .module import ResourceModule

if TYPE_CHECKING:
    from .world import World

MODULES: tuple[ResourceModule, ...] = (
    graph_print.MODULE,
    graph_print_jobs.MODULE,
    graph_drive.MODULE,
    box_files.MODULE,
    box_tasks.MODULE,  # after the files: a task is on one
    box_metadata.MODULE,  # metadata instances, on files and folders
    box_metadata_templates.MODULE,  # the templates they are of
)
# What a world file holds: the modules' parts, and those that answer no request themselves (what
# the sign-in grants each client id).
WORLD_PARTS: tuple[ResourceModule, ...] = (*MODULES, app_registrations.MODULE)


def counts(world: World) -> dict[str, int]:
    """How many of what each module simulates the world holds, by what it simulates (the start-up
    line, a reset's answer)."""
    return {m.name: m.count(world) for m in MODULES}


def world_keys(api: str) -> set[str]:
    """The keys under `graph:` or `box:` of a world file that the modules read (the rest seed the store)."""
    return {key for m in WORLD_PARTS for key in m.schema.get(api, {})}


def seedable(api: str) -> dict[str, Any]:
    """The collections a world file seeds the store with under `graph:` or `box:`, from the spec
    models (sim/seeds.py), but for those a module keeps its own records in (of its own shape)."""
    found = seeds.graph_collections() if api == "graph" else seeds.box_collections()
    owned = tuple(prefix for m in MODULES for prefix in m.collections)
    return {name: v for name, v in found.items() if not f"{api}:{name}".startswith(owned)}
