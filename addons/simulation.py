"""The simulation addon: a stateful Graph print-task and Box task service that answers after the
scenarios and before the cassettes. What it does not simulate falls through to the cassettes."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from mitmproxy import command, ctx, exceptions, http

from .core import limits
from .core.errors import InputError
from .runtime import responses
from .runtime.mode import Mode
from .runtime.state import StateFile
from .sim import registry
from .sim import world as world_mod
from .sim.http import Later, Reply, SimRequest
from .sim.router import Simulation

logger = logging.getLogger(__name__)

DEFAULT_WORLD = Path(__file__).resolve().parent / "sim" / "default-world.yaml"


class SimulationAddon:
    name = "tapeproxy_simulation"
    where = "simulation"

    def __init__(self) -> None:
        self.sim: Simulation | None = None
        self.state: StateFile | None = None
        self.max_session_bytes = limits.parse_size(limits.DEFAULT_MAX_UPLOAD_SESSIONS, "--max-upload-sessions")

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
        loader.add_option(
            "tapeproxy_strict_ids",
            bool,
            False,
            "Unknown ids answer the API's 404, as the real services do (default: a record never created "
            "is made up on its first read, then kept).",
        )
        loader.add_option(
            "tapeproxy_max_upload_sessions",
            str,
            limits.DEFAULT_MAX_UPLOAD_SESSIONS,
            "What the upload sessions in progress (Box chunked uploads, Graph upload sessions) may hold "
            "together; past it, the API's 507.",
        )

    def configure(self, updated):
        if "tapeproxy_max_upload_sessions" in updated:
            try:
                self.max_session_bytes = limits.parse_size(
                    ctx.options.tapeproxy_max_upload_sessions, "--max-upload-sessions"
                )
            except InputError as e:
                raise exceptions.OptionsError(str(e)) from None
            if self.sim is not None:
                self.sim.world.max_session_bytes = self.max_session_bytes
        if not updated & {"tapeproxy_simulate", "tapeproxy_world", "tapeproxy_state", "tapeproxy_strict_ids"}:
            return
        if not ctx.options.tapeproxy_simulate:
            self.sim = None
            self._close_state()
            return
        try:
            self._open_state()
            self.sim = Simulation(self._load(fresh=False))
        except InputError as e:
            raise exceptions.OptionsError(str(e)) from None
        logger.info(_described(self.sim.world, ctx.options.tapeproxy_state))

    def _open_state(self) -> None:
        """The state file named, taken for this process alone; never the world file itself."""
        state, world = ctx.options.tapeproxy_state, ctx.options.tapeproxy_world
        if state and world and _same_file(state, world):
            raise InputError(
                f"--state and --world both name {world}",
                hint="the world file is what the world starts from (and what reset-world goes back to); the "
                "state file is rewritten after every change: give the state file a name of its own",
            )
        if self.state is not None and (not state or Path(state) != self.state.path):
            self._close_state()
        if state and self.state is None:
            opened = StateFile(state)
            opened.open()
            self.state = opened

    def _close_state(self) -> None:
        if self.sim is not None:
            self.sim.world.store.detach()
        if self.state is not None:
            self.state.close()
            self.state = None

    def _load(self, fresh: bool) -> world_mod.World:
        state = ctx.options.tapeproxy_state or None
        from_state = bool(state) and not fresh and Path(str(state)).is_file()
        w = world_mod.load_or_default(ctx.options.tapeproxy_world or None, state if from_state else None, DEFAULT_WORLD)
        if from_state and self.state is not None:
            self.state.mark_saved(w)
        w.max_session_bytes = self.max_session_bytes
        w.strict = w.graph.strict = w.box.strict = ctx.options.tapeproxy_strict_ids
        if state and self.state is not None:  # the store's records: in a database beside the state file
            if self.sim is not None:
                self.sim.world.store.detach()
            w.disk = self.state.disk
            w.write_content()
            w.store.attach(world_mod.store_file(state), keep=not fresh)
            w.read_stored_content()
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
            if self.state is not None:
                self.state.save(self.sim.world)

    def done(self) -> None:
        if self.sim is not None and self.state is not None:
            self.state.save(self.sim.world)
        self._close_state()

    def answer(self, flow: http.HTTPFlow):
        """The resource modules' answer (print tasks, drive items, Box tasks and files...)."""
        if self.sim is None:
            return None
        return self._answer(flow, self.sim.handle)

    def generic(self, flow: http.HTTPFlow):
        """The store's answer, for what the resource modules and the cassettes did not answer."""
        if self.sim is None:
            return None
        return self._answer(flow, self.sim.handle_generic)

    def _answer(self, flow: http.HTTPFlow, handler):
        assert self.sim is not None
        req = flow.request
        world = self.sim.world
        before = world.version
        reply = handler(SimRequest.of(req))
        if reply is None:
            return None
        if isinstance(reply, Later) or (self.state is not None and world.version != before):
            return self._finish(flow, reply, world, before)
        self._respond(flow, reply)
        return None

    async def _finish(self, flow: http.HTTPFlow, reply: Reply | Later, world: world_mod.World, before: int) -> None:
        """Heavy work off the event loop; the answer only once a change it made is saved (--state)."""
        if isinstance(reply, Later):
            reply = await asyncio.to_thread(reply.work)
        if self.state is not None and world.version != before:
            await self.state.durable(world)
        self._respond(flow, reply)

    @staticmethod
    def _respond(flow: http.HTTPFlow, reply: Reply) -> None:
        req = flow.request
        flow.response = responses.sized(reply.status, reply.headers, reply.body)
        responses.served_by(flow, "simulation", f"simulation {req.method} {req.path.partition('?')[0]}")


class WorldAnswers:
    """The pipeline's place for the store's generic answers (after the cassettes and sign-in,
    before the spec's generated ones); the simulation addon does the work. Recording live, what the
    resource modules do not answer goes to the service, to be recorded: the world does not stand in."""

    where = "world"

    def __init__(self, simulation: SimulationAddon, mode: Mode) -> None:
        self.simulation = simulation
        self.mode = mode

    def answer(self, flow: http.HTTPFlow):
        if self.mode.live:
            return None
        return self.simulation.generic(flow)


def _described(w: world_mod.World, state: str) -> str:
    """What the simulation serves, for the start-up lines: each resource module's count (and records,
    where it names them), and the store's."""
    held = ", ".join(f"{n} {name}" for name, n in registry.counts(w).items())
    records, collections = w.store_summary()
    where = f"; state in {state}" if state else ""
    return "\n".join(
        [
            f"tapeproxy: simulating {held}; every other Box and Graph resource kept in the store ({records} "
            f"record(s) in {collections} collection(s) now), from the specs{where}",
            *(line for m in registry.MODULES if m.listed for line in m.listed(w)),
        ]
    )


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist yet: the same path is the same file to be
        return Path(a).absolute().resolve() == Path(b).absolute().resolve()
