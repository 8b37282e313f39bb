"""The control API: switch, add, clear and reset scenarios while the proxy runs.

Reached through the proxy at http://tapeproxy/ (as mitmproxy's own mitm.it), from loopback
clients, and from others that send tapeproxy_control_token in X-Tapeproxy-Token. A request with an
Origin header comes from a browser page, which any site can make a loopback client send: it needs
the token too. `tapeproxy ctl` is its command-line client.

What it loads is bounded: built-in scenarios by name; scenario files only by absolute path, only
under the folders allowed at start-up (tapeproxy_scenario_dirs), only regular files of at most
1 MiB, read off the event loop; posted YAML text, without body files. A file that does not load is
answered with where, not with what it holds: the log has the full reason.

    GET    /scenarios           active scenarios, their rules and counters; the built-in library
    PUT    /scenarios           {"scenarios": [NAME|PATH, ...]}: exactly these (others dropped)
    POST   /scenarios           {"scenario": NAME|PATH} or {"yaml": TEXT}: add one
    DELETE /scenarios/NAME      drop one;   DELETE /scenarios: drop all
    POST   /scenarios/reset     counters, sequences, buckets, states and time windows start again
    GET    /world               the simulated world, as a world file holds it
    POST   /world/reset         back to the world file (the state file too)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import stat
from collections.abc import Sequence  # mitmproxy parses --set only for this spelling
from pathlib import Path
from urllib.parse import unquote

from mitmproxy import ctx, http

from .core import scenario as model
from .core.addresses import loopback_peer
from .core.control_api import CONTROL_TOKEN_HEADER
from .core.errors import InputError
from .runtime import responses
from .scenarios import Scenarios, builtin_names, resolve, unique
from .sim import registry
from .simulation import SimulationAddon

logger = logging.getLogger(__name__)

MAX_SCENARIO_FILE = 1 << 20


class Control:
    name = "tapeproxy_control"
    where = "control"

    def __init__(self, scenarios: Scenarios, simulation: SimulationAddon | None = None) -> None:
        self.scenarios = scenarios
        self.simulation = simulation

    def load(self, loader):
        loader.add_option(
            "tapeproxy_control_token",
            str,
            "",
            "Let non-loopback callers use the control API when they send this token in X-Tapeproxy-Token.",
        )
        loader.add_option(
            "tapeproxy_scenario_dirs",
            Sequence[str],
            [],
            "Folders the control API may load scenario files from (besides the built-in ones).",
        )

    @staticmethod
    def _has_token(flow: http.HTTPFlow) -> bool:
        token = ctx.options.tapeproxy_control_token
        given = flow.request.headers.get(CONTROL_TOKEN_HEADER, "")
        return bool(token) and hmac.compare_digest(given.encode(), token.encode())

    async def answer(self, flow: http.HTTPFlow) -> None:
        """The pipeline hands it every request to http://tapeproxy/."""
        try:
            if "origin" in flow.request.headers and not self._has_token(flow):
                status, body = (
                    403,
                    {
                        "error": "the control API does not answer browser pages (an Origin header) "
                        "without its token (X-Tapeproxy-Token)"
                    },
                )
            elif not (loopback_peer(flow.client_conn.peername) or self._has_token(flow)):
                status, body = (
                    403,
                    {
                        "error": "the control API answers loopback clients, and callers with its "
                        "token (X-Tapeproxy-Token) if tapeproxy_control_token is set"
                    },
                )
            else:
                status, body = await self._handle(
                    flow.request.method,
                    flow.request.path.partition("?")[0].rstrip("/"),
                    flow.request.get_content(strict=False) or b"",
                )
        except InputError as e:
            status, body = 400, {"error": str(e)}
        data = json.dumps(body, indent=2).encode() + b"\n"
        flow.response = responses.sized(status, [("Content-Type", "application/json")], data)
        responses.served_by(flow, "control", f"control {flow.request.method} {flow.request.path}")

    def _state(self) -> dict:
        return {"scenarios": self.scenarios.describe(), "builtin": builtin_names()}

    async def _handle(self, method: str, path: str, raw: bytes) -> tuple[int, dict]:
        if path in ("", "/scenarios") and method == "GET":
            return 200, self._state()
        if path == "/scenarios" and method == "PUT":
            names = _body(raw).get("scenarios")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise InputError('PUT /scenarios takes {"scenarios": [NAME or PATH, ...]}')
            self.scenarios.use(unique(await self._load(names)))
            return 200, self._state()
        if path == "/scenarios" and method == "POST":
            body = _body(raw)
            if isinstance(body.get("yaml"), str):
                loaded = await asyncio.to_thread(model.parse, body["yaml"], "<posted scenario>", None)
            elif isinstance(body.get("scenario"), str):
                loaded = (await self._load([body["scenario"]]))[0]
            else:
                raise InputError('POST /scenarios takes {"scenario": NAME or PATH} or {"yaml": TEXT}')
            self.scenarios.add(loaded)
            return 200, self._state()
        if path == "/scenarios" and method == "DELETE":
            self.scenarios.use([])
            return 200, self._state()
        if path.startswith("/scenarios/") and method == "DELETE":
            name = unquote(path.removeprefix("/scenarios/"))
            if not self.scenarios.remove(name):
                return 404, {"error": f"no active scenario {name!r}", **self._state()}
            return 200, self._state()
        if path == "/scenarios/reset" and method == "POST":
            self.scenarios.reset()
            logger.info("tapeproxy: scenario counters reset")
            return 200, self._state()
        world = self.simulation.world if self.simulation else None
        if path == "/world" and method == "GET" and world is not None:
            return 200, world.export()
        if path == "/world/reset" and method == "POST":
            if self.simulation is None or world is None:
                return 409, {"error": "the simulation is off (tapeproxy demo, or --simulate)"}
            self.simulation.reset()
            logger.info("tapeproxy: world reset")
            world = self.simulation.world
            assert world is not None  # reset keeps the simulation on
            records, collections = world.store_summary()
            return 200, {
                "reset": True,
                "counts": registry.counts(world),
                "records": records,
                "collections": collections,
            }
        return 404, {
            "error": f"no {method} {path or '/'}; see GET /scenarios",
            "routes": [
                "GET /scenarios",
                "PUT /scenarios",
                "POST /scenarios",
                "DELETE /scenarios[/NAME]",
                "POST /scenarios/reset",
                "GET /world",
                "POST /world/reset",
            ],
        }

    async def _load(self, refs: list[str]) -> list[model.Scenario]:
        """Built-in scenarios and allowed files, read in a worker thread: a slow disk stalls no client."""
        dirs = [Path(d).expanduser().resolve() for d in ctx.options.tapeproxy_scenario_dirs]
        paths = [_allowed_file(ref, dirs) for ref in refs]  # refused before anything is read
        return await asyncio.to_thread(lambda: [_load_quietly(p) for p in paths])


def _allowed_file(ref: str, dirs: list[Path]) -> Path:
    """A built-in scenario, or a regular file of at most MAX_SCENARIO_FILE under one of `dirs`."""
    if ref in builtin_names():
        return resolve(ref)
    path = Path(ref)
    if not path.is_absolute():
        raise InputError(
            f"no built-in scenario {ref!r}; a scenario file is given by its absolute path (tapeproxy ctl sends one)",
            hint="built-in: " + ", ".join(builtin_names()),
        )
    real = path.resolve()
    if not any(d in real.parents for d in dirs):
        raise InputError(
            f"{ref}: not in a folder the control API may read",
            hint="start tapeproxy with --scenario-dir FOLDER (or --scenario FILE in that folder)",
        )
    try:
        info = os.stat(real)
    except OSError as e:
        raise InputError(f"{ref}: {e.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{ref}: not a regular file")
    if info.st_size > MAX_SCENARIO_FILE:
        raise InputError(f"{ref}: larger than {MAX_SCENARIO_FILE >> 20} MiB; a scenario file is small")
    return real


def _load_quietly(path: Path) -> model.Scenario:
    """Load a scenario file; a failure is answered with where only (the log has why): the answer
    must not carry what a file holds to whoever asked."""
    try:
        return model.load(path)
    except InputError as e:
        logger.warning(f"tapeproxy: control API: {e}")
        where = f"{e.path}:{e.line}" if e.line else str(e.path or path)
        raise InputError(f"{where}: not a valid scenario file (the proxy's log says why)") from None


def _body(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise InputError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object")
    return body
