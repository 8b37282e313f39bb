"""The control API: switch, add, clear and reset scenarios while the proxy runs.

Reached through the proxy at http://tapeproxy/ (as mitmproxy's own mitm.it), from loopback
clients, and from others that send tapeproxy_control_token in X-Tapeproxy-Token. `tapeproxy ctl`
is its command-line client.

    GET    /scenarios           active scenarios, their rules and counters; the built-in library
    PUT    /scenarios           {"scenarios": [NAME|PATH, ...]}: exactly these (others dropped)
    POST   /scenarios           {"scenario": NAME|PATH} or {"yaml": TEXT}: add one
    DELETE /scenarios/NAME      drop one;   DELETE /scenarios: drop all
    POST   /scenarios/reset     counters, sequences, buckets, states and time windows start again
    GET    /world               the simulated world, as a world file holds it
    POST   /world/reset         back to the world file (the state file too)
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from pathlib import Path
from urllib.parse import unquote

from mitmproxy import ctx, http

from . import responses
from .core import scenario as model
from .core.errors import InputError
from .hosts import CONTROL_HOST, CONTROL_TOKEN_HEADER
from .rules import Scenarios, builtin_names, load_all
from .simulation import SimulationAddon

logger = logging.getLogger(__name__)


def _loopback(flow: http.HTTPFlow) -> bool:
    peer = flow.client_conn.peername
    if not peer:
        return False
    try:
        addr = ipaddress.ip_address(peer[0])
    except ValueError:
        return False
    return addr.is_loopback or (addr.version == 6 and addr.ipv4_mapped is not None and addr.ipv4_mapped.is_loopback)


class Control:
    name = "tapeproxy_control"

    def __init__(self, scenarios: Scenarios, simulation: SimulationAddon | None = None) -> None:
        self.scenarios = scenarios
        self.simulation = simulation

    def load(self, loader):
        loader.add_option("tapeproxy_control_token", str, "",
                          "Let non-loopback callers use the control API when they send this token in X-Tapeproxy-Token.")

    @staticmethod
    def _has_token(flow: http.HTTPFlow) -> bool:
        token = ctx.options.tapeproxy_control_token
        given = flow.request.headers.get(CONTROL_TOKEN_HEADER, "")
        return bool(token) and hmac.compare_digest(given.encode(), token.encode())

    def request(self, flow: http.HTTPFlow) -> None:
        if responses.handled(flow) or flow.request.host.lower().rstrip(".") != CONTROL_HOST:
            return
        try:
            if not (_loopback(flow) or self._has_token(flow)):
                status, body = 403, {"error": "the control API answers loopback clients, and callers with its "
                                              "token (X-Tapeproxy-Token) if tapeproxy_control_token is set"}
            else:
                status, body = self._handle(flow.request.method, flow.request.path.partition("?")[0].rstrip("/"),
                                            flow.request.get_content(strict=False) or b"")
        except InputError as e:
            status, body = 400, {"error": str(e)}
        except Exception as e:  # never forward a control request anywhere
            responses.internal_error(flow, "control", e)
            return
        data = json.dumps(body, indent=2).encode() + b"\n"
        flow.response = responses.sized(status, [("Content-Type", "application/json")], data)
        responses.served_by(flow, "control", f"control {flow.request.method} {flow.request.path}")

    def _state(self) -> dict:
        return {"scenarios": self.scenarios.engine.describe(), "builtin": builtin_names()}

    def _handle(self, method: str, path: str, raw: bytes) -> tuple[int, dict]:
        if path in ("", "/scenarios") and method == "GET":
            return 200, self._state()
        if path == "/scenarios" and method == "PUT":
            names = _body(raw).get("scenarios")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise InputError('PUT /scenarios takes {"scenarios": [NAME or PATH, ...]}')
            self.scenarios.use(load_all(names))
            return 200, self._state()
        if path == "/scenarios" and method == "POST":
            body = _body(raw)
            if isinstance(body.get("yaml"), str):
                loaded = model.parse(body["yaml"], "<posted scenario>", Path.cwd())
            elif isinstance(body.get("scenario"), str):
                loaded = load_all([body["scenario"]])[0]
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
            self.scenarios.engine.reset()
            logger.info("tapeproxy: scenario counters reset")
            return 200, self._state()
        if path == "/world" and method == "GET" and self.simulation and self.simulation.sim:
            return 200, self.simulation.sim.world.to_doc()
        if path == "/world/reset" and method == "POST":
            if not (self.simulation and self.simulation.sim):
                return 409, {"error": "the simulation is off (tapeproxy demo, or --simulate)"}
            self.simulation.reset()
            logger.info("tapeproxy: world reset")
            world = self.simulation.sim.world
            return 200, {"reset": True, "print_task_definitions": len(world.graph_defs),
                         "box_tasks": len(world.box_tasks)}
        return 404, {"error": f"no {method} {path or '/'}; see GET /scenarios", "routes": [
            "GET /scenarios", "PUT /scenarios", "POST /scenarios", "DELETE /scenarios[/NAME]",
            "POST /scenarios/reset", "GET /world", "POST /world/reset"]}


def _body(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise InputError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object")
    return body
