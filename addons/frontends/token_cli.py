"""`tapeproxy token`: a token as the simulated sign-in issues them, for curl and tests (Dev Proxy's
`jwt create`). Graph: delegated (`--scopes`, `scp`, for a user of the default world) or
application (`--roles`); Box (`--api box`): a token narrowed to Box scopes, which the simulation
enforces as it does downscoped tokens."""

from __future__ import annotations

import difflib

from ..core import permissions
from ..core.errors import InputError
from ..core.profiles import box as box_profile
from ..core.profiles import graph as graph_profile
from ..sim import auth


def _known(names: list[str], known: frozenset[str] | set[str], what: str) -> list[str]:
    by_lower = {k.lower(): k for k in known}
    out = []
    for name in names:
        found = by_lower.get(name.lower())
        if found is None:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise InputError(f"{name!r} is not a {what}{hint}")
        out.append(found)
    return out


def mint(api: str, scopes: list[str], roles: list[str], user: str, client_id: str, tenant: str, lifetime: int) -> str:
    if api == "box":
        if roles or user:
            raise InputError("a Box token takes --scopes only (Box's scopes, such as item_preview)")
        names = _known(scopes, set(box_profile.DOWNSCOPE_ACTIONS), "Box scope")
        if not names:
            raise InputError("a Box token needs --scopes: one or more of " + ", ".join(box_profile.DOWNSCOPE_ACTIONS))
        return auth.box_scoped_token(names)
    if bool(scopes) == bool(roles):
        raise InputError("a Graph token is delegated (--scopes NAME...) or application (--roles NAME...): give one")
    if roles:
        if user:
            raise InputError("an application token has no user: --user goes with --scopes")
        named = _known(roles, permissions.application_names(), "Graph application permission")
        return auth.graph_access_token(tenant, client_id, roles=named, lifetime=lifetime)
    named = _known(scopes, permissions.delegated_names(), "Graph delegated permission")
    return auth.graph_access_token(
        tenant, client_id, user=auth.signed_in_user(user), scopes=tuple(named), lifetime=lifetime
    )


DEFAULT_CLIENT = "00000000-0000-0000-0000-0000000000ad"  # the client id a minted token names
DEFAULT_TENANT = graph_profile.TENANT_DOMAIN
