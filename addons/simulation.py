"""The simulation addon: a stateful Graph print-task and Box task service that answers after the
scenarios and before the cassettes. What it does not simulate falls through to the cassettes."""

from __future__ import annotations

import logging
from pathlib import Path

from mitmproxy import command, ctx, exceptions, http

from .core.errors import InputError
from .runtime import responses
from .sim import world as world_mod
from .sim.http import SimRequest
from .sim.router import Simulation

logger = logging.getLogger(__name__)

DEFAULT_WORLD = Path(__file__).resolve().parent / "sim" / "default-world.yaml"


class SimulationAddon:
    name = "tapeproxy_simulation"
    where = "simulation"

    def __init__(self) -> None:
        self.sim: Simulation | None = None

    def load(self, loader):
        loader.add_option(
            "tapeproxy_simulate",
            bool,
            False,
            "Answer Graph print tasks, Box tasks and their token endpoints from a simulated world.",
        )
        loader.add_option(
            "tapeproxy_world", str, "", "World file (YAML) the simulation starts from; default: built in."
        )
        loader.add_option(
            "tapeproxy_state",
            str,
            "",
            "State file: the world is saved there after every change and loaded from it at start.",
        )

    def configure(self, updated):
        if not updated & {"tapeproxy_simulate", "tapeproxy_world", "tapeproxy_state"}:
            return
        if not ctx.options.tapeproxy_simulate:
            self.sim = None
            return
        try:
            self.sim = Simulation(self._load(fresh=False))
        except InputError as e:
            raise exceptions.OptionsError(str(e)) from None
        w = self.sim.world
        logger.info(
            f"tapeproxy: simulating {len(w.graph_defs)} print task definition(s) and {len(w.box_tasks)} "
            f"Box task(s)" + (f", state in {ctx.options.tapeproxy_state}" if ctx.options.tapeproxy_state else "")
        )

    def _load(self, fresh: bool) -> world_mod.World:
        state = ctx.options.tapeproxy_state or None
        w = world_mod.load_or_default(ctx.options.tapeproxy_world or None, None if fresh else state, DEFAULT_WORLD)
        if state:
            w.on_change = lambda changed: changed.save(state)
        return w

    @property
    def world(self) -> world_mod.World | None:
        """The simulated world, None while the simulation is off."""
        return self.sim.world if self.sim is not None else None

    @command.command("tapeproxy.world.reset")
    def reset(self) -> None:
        """Back to the world file (the state file is overwritten with it)."""
        if self.sim is not None:
            with self.sim.world.lock:
                self.sim = Simulation(self._load(fresh=True))
                self.sim.world.changed()

    def answer(self, flow: http.HTTPFlow) -> None:
        if self.sim is None:
            return
        req = flow.request
        reply = self.sim.handle(
            SimRequest.make(
                req.method, req.host, req.path, req.headers.items(multi=True), req.get_content(strict=False) or b""
            )
        )
        if reply is not None:
            flow.response = responses.sized(reply.status, reply.headers, reply.body)
            responses.served_by(flow, "simulation", f"simulation {req.method} {req.path.partition('?')[0]}")
