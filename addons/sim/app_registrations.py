"""App registrations: what each client id may do, from the world file, as an Entra app registration
(the application permissions an admin granted, the delegated permissions consented) and a Box
app (its scopes). The simulated sign-in reads them to fill the tokens' `roles` and `scp`, and
Box tokens' scopes; a client id the world does not register gets the default registration, which
grants everything (so nothing changes for apps the world file does not name).

    graph:
      appRegistrations:
        - appId: 2f1c9a3e-...            # the client id
          applicationPermissions: [User.Read.All]
          delegatedPermissions: [User.Read, Mail.Read]
    box:
      apps:
        - clientId: abc123
          scopes: [root_readonly]

Sign-in is answered without a world too (after replay), so the registrations of the world last
loaded are kept for the process, not in the store: they are configuration, not state.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..core import permissions, yamlfile
from ..core.profiles import box as box_profile
from . import worldfile
from .module import ResourceModule

if TYPE_CHECKING:
    from .world import World

GRAPH_KEY = ("graph", "appRegistrations")
BOX_KEY = ("box", "apps")


@dataclass(frozen=True)
class Registration:
    client_id: str
    display_name: str
    application: tuple[str, ...]  # granted application permissions (roles)
    delegated: tuple[str, ...]  # consented delegated permissions (scp)


@dataclass(frozen=True)
class BoxApp:
    client_id: str
    scopes: tuple[str, ...]


class _Registered:
    def __init__(self) -> None:
        self.graph: dict[str, Registration] = {}
        self.box: dict[str, BoxApp] = {}
        self.lock = threading.Lock()


_registered = _Registered()


def graph_app(client_id: str) -> Registration | None:
    """The world's registration of this client id, None for the default one (everything granted)."""
    with _registered.lock:
        return _registered.graph.get(client_id.lower())


def box_app(client_id: str) -> BoxApp | None:
    with _registered.lock:
        return _registered.box.get(client_id)


def _names(check: yamlfile.Checker, value, keys: tuple, known: frozenset[str] | set[str], what: str) -> tuple:
    names = worldfile.list_of(check, value, keys)
    by_lower = {k.lower(): k for k in known}
    out = []
    for i, name in enumerate(names):
        found = by_lower.get(str(name).lower())
        if found is None:
            close = yamlfile.closest(str(name), sorted(known))
            raise check.fail(keys + (i,), f"{name!r} is not a {what}", f"did you mean {close!r}?" if close else "")
        out.append(found)
    return tuple(out)


def load(check: yamlfile.Checker, world: World, doc: dict[str, dict], blobs: Path | None) -> None:
    graph: dict[str, Registration] = {}
    for i, item in enumerate(worldfile.list_of(check, doc["graph"].get("appRegistrations"), GRAPH_KEY)):
        keys = (*GRAPH_KEY, i)
        item = check.mapping(item, keys, "an app registration")
        app_id = str(item.get("appId") or "")
        if not app_id:
            raise check.fail(keys, "an app registration needs its appId (the client id)")
        graph[app_id.lower()] = Registration(
            app_id,
            str(item.get("displayName") or app_id),
            _names(
                check,
                item.get("applicationPermissions"),
                (*keys, "applicationPermissions"),
                permissions.application_names(),
                "Graph application permission",
            ),
            _names(
                check,
                item.get("delegatedPermissions"),
                (*keys, "delegatedPermissions"),
                permissions.delegated_names(),
                "Graph delegated permission",
            ),
        )
    box: dict[str, BoxApp] = {}
    for i, item in enumerate(worldfile.list_of(check, doc["box"].get("apps"), BOX_KEY)):
        keys = (*BOX_KEY, i)
        item = check.mapping(item, keys, "a Box app")
        client_id = str(item.get("clientId") or "")
        if not client_id:
            raise check.fail(keys, "a Box app needs its clientId")
        scopes = _names(check, item.get("scopes"), (*keys, "scopes"), set(box_profile.DOWNSCOPE_ACTIONS), "Box scope")
        box[client_id] = BoxApp(client_id, scopes)
    with _registered.lock:
        _registered.graph, _registered.box = graph, box
    world.registrations = (tuple(graph.values()), tuple(box.values()))


def dump(world: World) -> dict[str, dict]:
    graph_apps, box_apps = world.registrations
    out: dict[str, dict] = {}
    if graph_apps:
        out["graph"] = {
            "appRegistrations": [
                {
                    "appId": r.client_id,
                    "displayName": r.display_name,
                    "applicationPermissions": list(r.application),
                    "delegatedPermissions": list(r.delegated),
                }
                for r in graph_apps
            ]
        }
    if box_apps:
        out["box"] = {"apps": [{"clientId": a.client_id, "scopes": list(a.scopes)} for a in box_apps]}
    return out


_NAMES = {"type": "array", "items": {"type": "string"}}
MODULE = ResourceModule(
    name="app registration(s)",
    on_host=lambda host: False,  # it answers nothing: the sign-in reads it
    handle=lambda world, req: None,
    routes=(),
    schema={
        "graph": {
            "appRegistrations": worldfile.records(
                {
                    "appId": worldfile.TEXT,
                    "displayName": worldfile.TEXT,
                    "applicationPermissions": _NAMES,
                    "delegatedPermissions": _NAMES,
                },
                required=("appId",),
                description="Entra app registrations: a client id's granted application permissions (roles) and "
                "consented delegated ones (scp); unregistered client ids are granted everything",
            )
        },
        "box": {
            "apps": worldfile.records(
                {"clientId": worldfile.TEXT, "scopes": _NAMES},
                required=("clientId",),
                description="Box apps: a client id's scopes; the tokens it is issued may do only what they allow",
            )
        },
    },
    count=lambda world: sum(map(len, world.registrations)),
    load=load,
    dump=dump,
)
