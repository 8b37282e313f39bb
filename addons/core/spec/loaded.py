"""The API models, loaded once per process on first use and shared by whatever answers from them
(the spec answers, the world)."""

from __future__ import annotations

import functools

from . import derive
from .box import BoxSpec
from .graph import GraphSpec


@functools.cache
def graph() -> GraphSpec:
    return GraphSpec(derive.load(derive.GRAPH_MODEL))


@functools.cache
def box() -> BoxSpec:
    return BoxSpec(derive.load(derive.BOX_MODEL))
