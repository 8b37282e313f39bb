"""API profiles: what is specific to each API (hosts, error envelope, standard headers).

`profile_for(host)` picks the profile; hosts added by option get the generic one.
"""

from __future__ import annotations

from . import box, generic, graph

PROFILES = (graph, box)
DEFAULT_HOSTS: tuple[str, ...] = tuple(h for p in PROFILES for h in p.HOSTS)


def profile_for(host: str):
    host = host.lower()
    for profile in PROFILES:
        if host in profile.HOSTS:
            return profile
    return generic
