"""Which simulated service answers a request: the token endpoints, the resource modules
(sim/registry.py), then the store for every other resource of both APIs."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable

from ..core.profiles import identity, profile_for
from ..core.spec import loaded
from . import auth, registry
from .graph_world import HOST as GRAPH_HOST
from .http import ApiError, Later, Reply, SimRequest, error_reply
from .world import World

_IDENTITY_TOKEN = re.compile(r"^/([^/]+)/oauth2/v2\.0/token/?$")
_IDENTITY_AUTHORIZE = re.compile(r"^/([^/]+)/oauth2/v2\.0/authorize/?$")
_IDENTITY_DEVICECODE = re.compile(r"^/([^/]+)/oauth2/v2\.0/devicecode/?$")
_IDENTITY_META = re.compile(r"^/([^/]+)/(?:discovery/instance|v2\.0/\.well-known/openid-configuration)/?$")


def sign_in(req: SimRequest) -> Reply | None:
    """The token endpoints' answer (Microsoft identity, Box OAuth), or None for any other request.

    Needs no world: replay falls back on it, so that a token request no cassette holds is answered
    offline instead of carrying the app's credentials anywhere.
    """
    if req.host in identity.HOSTS:
        m = _IDENTITY_TOKEN.match(req.path)
        if m and req.method == "POST":
            return auth.identity_token(req, m.group(1))
        m = _IDENTITY_AUTHORIZE.match(req.path)
        if m and req.method == "GET":
            return auth.identity_authorize(req, m.group(1))
        m = _IDENTITY_DEVICECODE.match(req.path)
        if m and req.method == "POST":
            return auth.identity_devicecode(req, m.group(1))
        m = _IDENTITY_META.match(req.path)
        if m and req.method == "GET":
            return auth.identity_metadata(req, m.group(1))
        return None
    if req.host == "api.box.com" and req.path.rstrip("/") == "/oauth2/token" and req.method == "POST":
        return auth.box_token(req)
    if req.host == "api.box.com" and req.path.rstrip("/") == "/oauth2/revoke" and req.method == "POST":
        return auth.box_revoke(req)
    return None


class Simulation:
    def __init__(self, world: World):
        self.world = world

    def handle(self, req: SimRequest) -> Reply | Later | None:
        """The simulation's answer, work that gives it (Later: run it in a worker thread), or None
        when it does not simulate this request."""
        req = self._named(req)
        try:
            answer: Reply | Later | None = sign_in(req)
            for module in registry.MODULES:
                if answer is not None:
                    break
                if module.on_host(req.host):
                    answer = module.handle(self.world, req)
        except ApiError as e:
            return error_reply(profile_for(req.host), req, e)
        if isinstance(answer, Later):
            return Later(functools.partial(_answered, req, answer.work))
        return answer

    def handle_generic(self, req: SimRequest) -> Reply | None:
        """The store's answer for what no resource module has: after the cassettes, in place of the
        spec's generated one (sim/graph_world.py, sim/box_world.py)."""
        req = self._named(req)
        try:
            return self.world.graph.handle(req) or self.world.box.handle(req)
        except ApiError as e:
            return error_reply(profile_for(req.host), req, e)

    def _named(self, req: SimRequest) -> SimRequest:
        """A Graph request with its path's names and query options in the model's casing, as Graph
        reads them in any: what every module and the store match against."""
        if req.host != GRAPH_HOST:
            return req
        spec = loaded.graph()
        path = spec.canonical(req.path)
        query = dict(spec.canonical_query(list(req.query.items())))
        return req if path == req.path and query == req.query else dataclasses.replace(req, path=path, query=query)


def _answered(req: SimRequest, work: Callable[[], Reply]) -> Reply:
    try:
        return work()
    except ApiError as e:
        return error_reply(profile_for(req.host), req, e)
