"""Derive the compact permissions model from Microsoft's Graph permissions reference
(graph-permissions.json: permission -> schemes -> path sets of methods and paths, `least=` marks).

The model (permissions.json.gz beside this file, written by `python -m tapeproxy.core.spec.derive`):
- "permissions": name -> [the schemes it has ("D" delegated work or school, "P" delegated personal,
  "A" application), its privilege level per scheme, whether an admin must consent];
- "paths": path key (core/permissions.py `path_key`) -> method -> [[permission, schemes that
  allow it there, schemes in which it is the least privileged there], ...].
Paths with a query (the reference's conditional `?$filter=` entries, which need a second
permission too) are left out: a path without one answers for them.
"""

from __future__ import annotations

from typing import Any

from .. import permissions

SPEC = "graph-permissions.json"
SCHEMES = {"DelegatedWork": "D", "DelegatedPersonal": "P", "Application": "A"}


def _letters(names: Any) -> str:
    return "".join(sorted({SCHEMES[n] for n in names if n in SCHEMES}))


def derive(reference: dict) -> dict:
    perms: dict[str, list] = {}
    paths: dict[str, dict[str, dict[str, list[str]]]] = {}
    for name, perm in sorted(reference["permissions"].items()):
        schemes = perm.get("schemes", {})
        perms[name] = [
            _letters(schemes),
            {SCHEMES[s]: v.get("privilegeLevel", 0) for s, v in sorted(schemes.items()) if s in SCHEMES},
            any(v.get("requiresAdminConsent") for v in schemes.values()),
        ]
        for path_set in perm.get("pathSets", []):
            allowed = _letters(path_set.get("schemeKeys", ()))
            for path, marks in path_set.get("paths", {}).items():
                if "?" in path or not allowed:
                    continue
                least = _letters(marks.removeprefix("least=").split(",")) if marks.startswith("least=") else ""
                for method in path_set.get("methods", ()):
                    entry = paths.setdefault(permissions.path_key(path), {}).setdefault(method.upper(), {})
                    held = entry.setdefault(name, ["", ""])  # one permission may be listed twice: union
                    held[0] = "".join(sorted(set(held[0] + allowed)))
                    held[1] = "".join(sorted(set(held[1] + least)))
    return {
        "permissions": perms,
        "paths": {
            key: {m: [[n, *v] for n, v in sorted(by.items())] for m, by in sorted(methods.items())}
            for key, methods in sorted(paths.items())
        },
    }
