"""How much of Box and Graph `tapeproxy demo` answers, how much of it the specs accept, and how much
the official SDKs' models deserialize.

    python bench/spec_coverage.py [--specs ../shared/specs]

Box: every operation of the OpenAPI, called with its path parameters (ids the demo world has for
tasks) and, where it takes a JSON body, a body built from the request schema. Graph: every entity
set and singleton, one entity of each set by key, and every navigation property of those once.
"Answered" is any answer that is not a miss or a 5xx; "spec-valid" is checked with the spec files
themselves (tests/test_spec_answers.py's checkers); "SDK" is box-sdk-gen's / msgraph-sdk's model
for the response type deserializing the body without an error.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("TAPEPROXY_SPEC_SEED", "0")

import requests  # noqa: E402
import test_spec_answers as checks  # noqa: E402
from helpers import CliProxy  # noqa: E402

from tapeproxy.core.spec import derive  # noqa: E402
from tapeproxy.core.spec.box import BoxSpec  # noqa: E402


def answered(r: requests.Response) -> bool:
    return "X-Tapeproxy-Miss" not in r.headers and r.status_code < 500


def box_coverage(proxy) -> None:
    spec = checks.box_spec()
    model = BoxSpec(derive.load(derive.BOX_MODEL))
    s = checks.session(proxy)
    by_method: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    # Reads first, deletes last: the simulation's world changes as it is called (DELETE /files/12345
    # takes its tasks with it).
    calls = [
        (method, path, item)
        for method in ("get", "options", "post", "put", "patch", "delete")
        for path, item in sorted(spec["paths"].items())
        if "#" not in path and method in item
    ]
    for method, path, item in calls:
        op = item[method]
        params = [*item.get("parameters", []), *op.get("parameters", [])]
        url = path
        for p in params:
            if p["in"] == "path":
                value = checks.WORLD_IDS.get(p["name"]) or p.get("example") or "12345"
                url = url.replace("{" + p["name"] + "}", str(value))
        query = {p["name"]: str(p.get("example", "1")) for p in params if p["in"] == "query" and p.get("required")}
        body = None
        content = (op.get("requestBody") or {}).get("content") or {}
        if "application/json" in content:
            found = next(o for o in model.routes if o.op["path"] == path and o.op["method"] == method.upper())
            body = model.value(found.op["body"]["schema"] or {}, "", 0, "coverage")
        host = "https://upload.box.com/api/2.0" if "upload.box.com" in json.dumps(op.get("servers", "")) else checks.BOX
        r = s.request(method.upper(), host + url, params=query, json=body, allow_redirects=False)
        c = by_method[method.upper()]
        c["operations"] += 1
        if not answered(r):
            continue
        c["answered"] += 1
        c["2xx/3xx"] += r.status_code < 400
        if r.status_code < 300 and "json" in r.headers.get("Content-Type", ""):
            c["json"] += 1
            c["spec-valid"] += not checks.box_problems(op, 200 if r.status_code == 200 else r.status_code, r.json())
            sdk = checks.box_sdk_ok(op, r.status_code, r.json())
            if sdk is not None:
                c["sdk-checked"] += 1
                c["sdk-ok"] += sdk
    total: collections.Counter = sum(by_method.values(), collections.Counter())
    print("Box (every operation of box-openapi.json):")
    for method, c in [*sorted(by_method.items()), ("all", total)]:
        print(
            f"  {method:7} {c['operations']:3} operations, {c['answered']:3} answered ({c['2xx/3xx']} 2xx/3xx); "
            f"JSON bodies spec-valid {c['spec-valid']}/{c['json']}; box-sdk-gen model deserializes "
            f"{c['sdk-ok']}/{c['sdk-checked']}"
        )


def graph_coverage(proxy) -> None:
    types, _, sets, singletons = checks.csdl()
    s = checks.session(proxy)
    c: collections.Counter = collections.Counter()
    navs = derive.load(derive.GRAPH_MODEL)["types"]

    def lineage(t):
        while t:
            yield t
            t = navs.get(t, {}).get("base")

    def check(path: str, type_name: str, collection: bool) -> None:
        r = s.get(checks.GRAPH + path, params={"$top": "2"} if collection else None)
        c["requests"] += 1
        if not answered(r):
            return
        c["answered"] += 1
        if r.status_code != 200 or "json" not in r.headers.get("Content-Type", ""):
            return
        body = r.json()
        c["json"] += 1
        value = body.get("value", body) if collection else body
        c["csdl-valid"] += not checks.graph_problems(f"Collection({type_name})" if collection else type_name, value)
        for entity in value if collection else [value]:
            ok = checks.graph_sdk_ok(type_name, entity) if isinstance(entity, dict) else None
            if ok is not None:
                c["sdk-checked"] += 1
                c["sdk-ok"] += ok

    roots = [(f"/{n}", t, True) for n, t in sets.items()] + [(f"/{n}", t, False) for n, t in singletons.items()]
    for path, t, is_set in roots:
        check(path, t, is_set)
        entity_path = f"{path}/coverage-1" if is_set else path
        if is_set:
            check(entity_path, t, False)
        for base in lineage(t):
            for nav, (target, _contained) in navs[base]["nav"].items():
                many = target.startswith("Collection(")
                check(f"{entity_path}/{nav}", target[11:-1] if many else target, many)
    print("Graph (every entity set and singleton of the v1.0 CSDL, an entity of each set, their navigations):")
    print(
        f"  {c['requests']} requests, {c['answered']} answered; JSON bodies CSDL-valid {c['csdl-valid']}/{c['json']}; "
        f"msgraph-sdk model deserializes {c['sdk-ok']}/{c['sdk-checked']} entities"
    )


def main() -> None:
    argparse.ArgumentParser().parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proxy = CliProxy(["demo", "--quiet"], Path(tmp))
        try:
            box_coverage(proxy)
            graph_coverage(proxy)
        finally:
            proxy.stop()


if __name__ == "__main__":
    main()
