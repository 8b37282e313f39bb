"""What a resource module declares (sim/registry.py lists them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .http import Later, Reply, SimRequest
    from .world import World


@dataclass(frozen=True)
class ResourceModule:
    name: str  # what it simulates, for the start-up line: "Graph print task definition(s)"
    on_host: Callable[[str], bool]  # the hosts of its routes: it is offered no other request
    handle: Callable[[World, SimRequest], Reply | Later | None]  # its answer, or None: not one of its routes
    world_keys: tuple[tuple[str, str], ...]  # the world file's keys it reads: ("graph", "taskDefinitions")
    count: Callable[[World], int]  # how many of what it simulates the world holds
    listed: Callable[[World], list[str]] | None = None  # lines naming them, for the start-up lines
