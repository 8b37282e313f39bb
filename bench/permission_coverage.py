"""How many Graph v1.0 operations the shipped permissions model (Microsoft's permissions reference,
derived) maps to at least one permission, and of those how many name a least-privileged one.

    python bench/permission_coverage.py

The operations are the v1.0 CSDL's, walked as bench/spec_coverage.py does: every entity set
(GET the collection, POST to it), one entity by key (GET, PATCH, DELETE), every singleton (GET,
PATCH), every navigation property of those entities (GET), and the bound actions (POST) and
functions (GET) of their types. Printed: operations, mapped, with a least-privileged delegated or
application permission, and by method.
"""

from __future__ import annotations

import collections

from tapeproxy.core import permissions
from tapeproxy.core.spec import derive


def operations(model: dict) -> list[tuple[str, str]]:
    types = model["types"]

    def lineage(name: str) -> list[str]:
        out = []
        while name in types:
            out.append(name)
            name = types[name].get("base") or ""
        return out

    def of_entity(base: str, type_name: str) -> list[tuple[str, str]]:
        ops = []
        for t in lineage(type_name):
            ops += [("GET", f"{base}/{nav}") for nav in types[t].get("nav") or {}]
            for op, info in model["bound"].get(t, {}).items():
                name = op.rsplit(".", 1)[-1]
                ops.append(("POST" if info.get("kind") == "action" else "GET", f"{base}/{name}"))
        return ops

    ops: list[tuple[str, str]] = []
    for name, type_name in model["entity_sets"].items():
        ops += [("GET", f"/{name}"), ("POST", f"/{name}")]
        ops += [(m, f"/{name}/{{id}}") for m in ("GET", "PATCH", "DELETE")]
        ops += of_entity(f"/{name}/{{id}}", type_name)
        for op, info in model["bound"].get(f"Collection({type_name})", {}).items():
            ops.append(("POST" if info.get("kind") == "action" else "GET", f"/{name}/{op.rsplit('.', 1)[-1]}"))
    for name, type_name in model["singletons"].items():
        ops += [("GET", f"/{name}"), ("PATCH", f"/{name}")]
        ops += of_entity(f"/{name}", type_name)
    return sorted(set(ops))


def main() -> None:
    ops = operations(derive.load(derive.GRAPH_MODEL))
    mapped = collections.Counter()
    total = collections.Counter()
    least = 0
    for method, path in ops:
        total[method] += 1
        rule = permissions.lookup(method, "/v1.0" + path.replace("{id}", "1"))
        if rule is not None and (rule.names("delegated") or rule.names("application")):
            mapped[method] += 1
            least += bool(rule.least("delegated") or rule.least("application"))
    n, m = sum(total.values()), sum(mapped.values())
    print(f"Graph v1.0 operations (from the CSDL): {n}")
    print(f"mapped to at least one permission: {m} ({m / n:.1%}); with a least-privileged one: {least}")
    for method in sorted(total):
        print(f"  {method:6} {mapped[method]:6} of {total[method]:6}")


if __name__ == "__main__":
    main()
