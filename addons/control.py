"""The control API: scenarios, the world, the request journal and recording, while the proxy runs.

Reached through the proxy at http://tapeproxy/ (as mitmproxy's own mitm.it) and on the control
port (tapeproxy_control_port, runtime/control_server.py) in every mode, reverse included; from
loopback clients, and from others that send tapeproxy_control_token in X-Tapeproxy-Token. A request
with an Origin header comes from a browser page, which any site can make a loopback client send: it
needs the token too (the dashboard page carries one of its own). On the control port, a Host header
that names a host (not an address, localhost or tapeproxy) is a page of another site whose name was
pointed at this machine (DNS rebinding): it needs the token too. `tapeproxy ctl` is its
command-line client; docs/control-api.md has a curl line for every route.

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
    GET    /health              ready, version, mode, intercepted hosts, recording
    GET    /requests            the journal, filtered (method, host, path, status, source, since; limit)
    GET    /requests/ID         one request and its answer, bodies capped
    GET    /requests/unmatched  misses, with their closest recording and what differed
    POST   /requests/count      {"method": ..., "path": GLOB, ...}: {"count": N}
    DELETE /requests            forget what the journal holds
    GET    /recording           what recording does now
    POST   /recording           {"cassette": PATH, "record_mode": ..., "upstream": {HOST: URL}}: start
    DELETE /recording           stop, and say what was saved
    GET    /ui                  the dashboard (also GET / from a browser)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import stat
from collections.abc import Sequence  # mitmproxy parses --set only for this spelling
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from mitmproxy import ctx, http

from . import __version__, harness
from .core import scenario as model
from .core.addresses import ip_of, loopback_peer
from .core.control_api import CONTROL_HEADERS, CONTROL_HOST, CONTROL_TOKEN_HEADER
from .core.errors import InputError
from .core.profiles import DEFAULT_HOST_SUFFIXES
from .hosts import Intercept
from .journal import Journal
from .runtime import responses
from .runtime.control_server import ControlServer
from .scenarios import Scenarios, builtin_names, resolve, unique
from .sim import registry
from .simulation import SimulationAddon

logger = logging.getLogger(__name__)

MAX_SCENARIO_FILE = 1 << 20
JSON = "application/json"


@dataclass(frozen=True)
class ControlRequest:
    """One call, however it came (through the proxy or to the control port)."""

    method: str
    target: str  # path and query, as sent
    headers: dict[str, str]  # names lower-cased
    body: bytes
    peer: tuple | None
    on_port: bool  # to the control port, not through the proxy

    @property
    def path(self) -> str:
        return unquote(urlsplit(self.target).path).rstrip("/")

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.target).query, keep_blank_values=True))


class Control:
    name = "tapeproxy_control"
    where = "control"

    def __init__(
        self,
        scenarios: Scenarios,
        simulation: SimulationAddon,
        journal: Journal,
        intercept: Intercept,
        recording: harness.RuntimeRecording,
    ) -> None:
        self.scenarios = scenarios
        self.simulation = simulation
        self.journal = journal
        self.intercept = intercept
        self.recording = recording
        # The dashboard's token: handed only to callers the page is served to, it lets the page's
        # own requests (which carry an Origin) through, and no other site's.
        self.page_token = secrets.token_urlsafe(24)
        self.server = ControlServer(self._on_port)

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
        loader.add_option(
            "tapeproxy_control_port",
            int,
            -1,
            "Serve the control API on this port too, in every mode (0 picks a free one; -1: only at http://tapeproxy/).",
        )

    async def running(self) -> None:
        port = ctx.options.tapeproxy_control_port
        if port >= 0:
            await self.server.start(ctx.options.listen_host or "127.0.0.1", port)

    def done(self) -> None:
        self.server.stop()

    @property
    def url(self) -> str | None:
        """The control port's URL, once it listens."""
        return self.server.url

    def _has_token(self, req: ControlRequest) -> bool:
        given = req.headers.get(CONTROL_TOKEN_HEADER.lower(), "").encode()
        token = ctx.options.tapeproxy_control_token
        return (bool(token) and hmac.compare_digest(given, token.encode())) or hmac.compare_digest(
            given, self.page_token.encode()
        )

    def refused(self, req: ControlRequest) -> str | None:
        """Why this caller may not use the control API, or None."""
        if self._has_token(req):
            return None
        if "origin" in req.headers:
            return (
                "the control API does not answer browser pages (an Origin header) without its token (X-Tapeproxy-Token)"
            )
        if not loopback_peer(req.peer):
            return (
                "the control API answers loopback clients, and callers with its token "
                "(X-Tapeproxy-Token) if tapeproxy_control_token is set"
            )
        if req.on_port and not _names_this_machine(req.headers.get("host", "")):
            return (
                f"the control port answers requests addressed to this machine by its address, "
                f"localhost or {CONTROL_HOST}, not {req.headers.get('host', '')!r}, without its token"
            )
        return None

    async def answer(self, flow: http.HTTPFlow) -> None:
        """The pipeline hands it every request to http://tapeproxy/."""
        r = flow.request
        req = ControlRequest(
            r.method,
            r.path,
            {k.lower(): v for k, v in r.headers.items()},
            r.get_content(strict=False) or b"",
            flow.client_conn.peername,
            on_port=False,
        )
        status, ctype, data = await self.respond(req)
        flow.response = responses.sized(status, [("Content-Type", ctype), *CONTROL_HEADERS], data)
        responses.served_by(flow, "control", f"control {r.method} {r.path}")

    async def _on_port(self, method: str, target: str, headers: dict, body: bytes, peer) -> tuple[int, str, bytes]:
        return await self.respond(ControlRequest(method, target, headers, body, peer, on_port=True))

    async def respond(self, req: ControlRequest) -> tuple[int, str, bytes]:
        """(status, content type, body) for a call, whichever way it came."""
        why = self.refused(req)
        try:
            if why:
                status, body = 403, {"error": why}
            elif req.method == "GET" and (req.path == "/ui" or (req.path == "" and _wants_html(req))):
                return 200, "text/html; charset=utf-8", self._page()
            else:
                status, body = await self._handle(req)
        except InputError as e:
            status, body = 400, {"error": str(e)}
        return status, JSON, json.dumps(body, indent=2).encode() + b"\n"

    def _page(self) -> bytes:
        page = resources.files("tapeproxy.ui").joinpath("dashboard.html").read_text()
        return page.replace("__TAPEPROXY_PAGE_TOKEN__", self.page_token).encode()

    def _state(self) -> dict:
        return {"scenarios": self.scenarios.describe(), "builtin": builtin_names()}

    def health(self) -> dict:
        opts = ctx.options
        return {
            "ready": True,
            "version": __version__,
            "pid": os.getpid(),
            "mode": list(opts.mode),
            "listening": [  # a server may report one address twice (dual-stack): each once
                {"mode": mode, "address": [host, port]}
                for mode, host, port in dict.fromkeys(
                    (server.mode.full_spec, addr[0], addr[1])
                    for server in ctx.master.addons.get("proxyserver").servers
                    for addr in server.listen_addrs
                )
            ],
            "record_mode": opts.tapeproxy_record_mode,
            "simulate": opts.tapeproxy_simulate,
            "control_url": self.url,
            "intercepted_hosts": sorted(self.intercept.hosts),
            "intercepted_suffixes": sorted("*" + s for s in DEFAULT_HOST_SUFFIXES),
            "requests": self.journal.total,
        }

    async def _handle(self, req: ControlRequest) -> tuple[int, dict]:
        method, path, raw = req.method, req.path, req.body
        if path == "/health" and method == "GET":
            return 200, self.health()
        if path.startswith("/requests"):
            return self._requests(req)
        if path == "/permissions" and method == "GET":
            usage = self.journal.permissions
            return 200, usage.report() if usage is not None else {"calls": 0}
        if path == "/recording":
            if method == "GET":
                return 200, self.recording.status()
            if method == "POST":
                return self.recording.start(_body(raw))
            if method == "DELETE":
                return self.recording.stop()
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
            name = path.removeprefix("/scenarios/")
            if not self.scenarios.remove(name):
                return 404, {"error": f"no active scenario {name!r}", **self._state()}
            return 200, self._state()
        if path == "/scenarios/reset" and method == "POST":
            self.scenarios.reset()
            logger.info("tapeproxy: scenario counters reset")
            return 200, self._state()
        world = self.simulation.world
        if path == "/world" and method == "GET" and world is not None:
            return 200, world.export()
        if path == "/world/reset" and method == "POST":
            if world is None:
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
        return _no_route(method, path)

    def _requests(self, req: ControlRequest) -> tuple[int, dict]:
        method, path = req.method, req.path
        if path == "/requests" and method == "GET":
            return 200, harness.listed(self.journal, req.query)
        if path == "/requests" and method == "DELETE":
            return 200, {"cleared": self.journal.clear()}
        if path == "/requests/unmatched" and method == "GET":
            return 200, harness.listed(self.journal, {**req.query, "source": "miss"})
        if path == "/requests/count" and method == "POST":
            return 200, harness.counted(self.journal, _body(req.body))
        tail = path.removeprefix("/requests/")
        if method == "GET" and tail.isdigit():
            call = self.journal.get(int(tail))
            if call is None:
                kept = self.journal.entries.maxlen
                return 404, {"error": f"no request {tail} in the journal (it keeps the newest {kept})"}
            return 200, harness.detail_of(call)
        return _no_route(method, path)

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


ROUTES = [
    "GET /health",
    "GET /requests",
    "GET /requests/ID",
    "GET /requests/unmatched",
    "POST /requests/count",
    "DELETE /requests",
    "GET /permissions",
    "GET /recording",
    "POST /recording",
    "DELETE /recording",
    "GET /scenarios",
    "PUT /scenarios",
    "POST /scenarios",
    "DELETE /scenarios[/NAME]",
    "POST /scenarios/reset",
    "GET /world",
    "POST /world/reset",
    "GET /ui",
]


def _no_route(method: str, path: str) -> tuple[int, dict]:
    return 404, {"error": f"no {method} {path or '/'}; see the routes", "routes": ROUTES}


def _wants_html(req: ControlRequest) -> bool:
    return "text/html" in req.headers.get("accept", "")


def _names_this_machine(host_header: str) -> bool:
    """A Host header of an address, localhost or tapeproxy (with a port or not)."""
    host = host_header.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    host = host.lower().rstrip(".")
    return host in ("localhost", CONTROL_HOST) or ip_of(host) is not None


def _body(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise InputError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object")
    return body
