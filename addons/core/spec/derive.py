"""Derive tapeproxy's compact models of the APIs from the official specs.

    python -m tapeproxy.core.spec.derive [SPECS_DIR]     (default: ../shared/specs beside the repo)

Box: every operation of Box's OpenAPI (method, path template, parameters, request body, success
status and response schema) and the schemas they use, without descriptions, and those of its
versioned specs the main one lacks (served under `box-version`). Graph: from the v1.0
CSDL, the entity and complex types (properties, navigation properties, base types, open and
abstract), enum members, entity sets, singletons and bound actions and functions; from Graph's
permissions reference, which permissions allow each method and path (permissions_model.py). Each is written
as gzipped JSON beside this file; the spec files themselves are not shipped.
"""

from __future__ import annotations

import gzip
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from . import permissions_model

HERE = Path(__file__).resolve().parent
BOX_MODEL = HERE / "box.json.gz"
GRAPH_MODEL = HERE / "graph.json.gz"
PERMISSIONS_MODEL = HERE / "permissions.json.gz"
BOX_SPEC = "box-openapi.json"
# Box's versioned specs: the endpoints it serves only under a `box-version` header (2025.0 and on).
BOX_VERSIONED_SPECS = ("box-openapi-v2025.0.json", "box-openapi-v2026.0.json")
GRAPH_SPEC = "graph-v1.0-csdl.xml"
METHODS = ("get", "post", "put", "patch", "delete", "options", "head")

# What a schema keeps: enough to generate a valid body and to check a request, nothing to read.
_SCHEMA_KEYS = ("type", "enum", "nullable", "format", "required", "example", "minimum", "maximum", "readOnly")


def _schema(s: Any) -> Any:
    if not isinstance(s, dict):
        return s
    if "$ref" in s:
        return {"$ref": s["$ref"].rsplit("/", 1)[-1]}
    out: dict[str, Any] = {k: s[k] for k in _SCHEMA_KEYS if k in s}
    if "properties" in s:
        out["properties"] = {k: _schema(v) for k, v in s["properties"].items()}
    if "items" in s:
        out["items"] = _schema(s["items"])
    if isinstance(s.get("additionalProperties"), dict):
        out["additionalProperties"] = _schema(s["additionalProperties"])
    for combiner in ("allOf", "oneOf", "anyOf"):
        if combiner in s:
            out[combiner] = [_schema(x) for x in s[combiner]]
    return out


def _json_content(content: dict | None) -> tuple[str | None, Any]:
    """The content type an operation takes or gives, and its schema (JSON first)."""
    if not content:
        return None, None
    ctype = "application/json" if "application/json" in content else sorted(content)[0]
    return ctype, _schema((content[ctype] or {}).get("schema"))


def derive_box(spec: dict, versioned: tuple[dict, ...] = ()) -> dict:
    """The model of Box's API; `versioned`: its versioned specs, whose operations the main one lacks
    are added with the version (`"version": "2025.0"`) they are served under, and their schemas
    where the main spec has none of that name."""
    ops = _box_ops(spec)
    schemas = {name: _schema(s) for name, s in sorted(spec["components"]["schemas"].items())}
    for extra in versioned:
        known = {(op["method"], op["path"]) for op in ops}
        version = str(extra["info"]["version"])
        ops += [{**op, "version": version} for op in _box_ops(extra) if (op["method"], op["path"]) not in known]
        for name, s in sorted(extra["components"]["schemas"].items()):
            schemas.setdefault(name, _schema(s))
    return {"spec_version": spec["info"]["version"], "base": spec["servers"][0]["url"], "ops": ops, "schemas": schemas}


def _box_ops(spec: dict) -> list[dict]:
    ops = []
    for path, item in sorted(spec["paths"].items()):
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params: dict[str, dict] = {"path": {}, "query": {}}
            for p in [*shared, *op.get("parameters", [])]:
                if p.get("in") in params:
                    params[p["in"]][p["name"]] = {
                        "required": bool(p.get("required")),
                        "schema": _schema(p.get("schema")),
                    }
            body = None
            if "requestBody" in op:
                ctype, schema = _json_content(op["requestBody"].get("content"))
                body = {"type": ctype, "schema": schema, "required": bool(op["requestBody"].get("required"))}
            ok = sorted(code for code in op.get("responses", {}) if code.startswith("2"))
            status = int(ok[0]) if ok else 200
            response = op["responses"].get(str(status), {}) if ok else {}
            rtype, rschema = _json_content(response.get("content"))
            ops.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "id": op.get("operationId", ""),
                    "path_params": params["path"],
                    "query": params["query"],
                    "body": body,
                    "status": status,
                    "response_type": rtype,
                    "response": rschema,
                }
            )
    return ops


_EDM = "{http://docs.oasis-open.org/odata/ns/edm}"


def derive_graph(csdl: str) -> dict:
    root = ET.fromstring(csdl.lstrip("\ufeff"))
    schemas = list(root.iter(f"{_EDM}Schema"))
    aliases = {s.get("Alias"): s.get("Namespace") for s in schemas if s.get("Alias")}

    def full(name: str | None, ns: str) -> str | None:
        """A type reference with its namespace spelled out (aliases and the schema's own undone)."""
        if name is None:
            return None
        if name.startswith("Collection(") and name.endswith(")"):
            return f"Collection({full(name[11:-1], ns)})"
        if name.startswith("Edm."):
            return name
        prefix, dot, last = name.rpartition(".")
        return f"{aliases.get(prefix, prefix)}.{last}" if dot else f"{ns}.{name}"

    types: dict[str, dict] = {}
    enums: dict[str, dict] = {}
    bound: dict[str, dict] = {}
    read_only: dict[str, list[str]] = {}
    sets: dict[str, str] = {}
    singletons: dict[str, str] = {}
    for schema in schemas:
        ns = schema.get("Namespace", "")
        for el in schema:
            tag, name = el.tag.removeprefix(_EDM), el.get("Name", "")
            if tag in ("EntityType", "ComplexType"):
                t: dict[str, Any] = {"kind": "entity" if tag == "EntityType" else "complex"}
                if el.get("BaseType"):
                    t["base"] = full(el.get("BaseType"), ns)
                if el.get("Abstract") == "true":
                    t["abstract"] = True
                if el.get("OpenType") == "true":
                    t["open"] = True
                if el.get("HasStream") == "true":
                    t["stream"] = True
                t["props"] = {
                    p.get("Name"): [full(p.get("Type"), ns), p.get("Nullable") != "false"]
                    for p in el.findall(f"{_EDM}Property")
                }
                t["nav"] = {
                    p.get("Name"): [full(p.get("Type"), ns), p.get("ContainsTarget") == "true"]
                    for p in el.findall(f"{_EDM}NavigationProperty")
                }
                types[f"{ns}.{name}"] = t
            elif tag == "EnumType":
                enums[f"{ns}.{name}"] = {
                    "members": [m.get("Name") for m in el.findall(f"{_EDM}Member")],
                    "flags": el.get("IsFlags") == "true",
                }
            elif tag in ("Action", "Function") and el.get("IsBound") == "true":
                parameters = el.findall(f"{_EDM}Parameter")
                returns = el.find(f"{_EDM}ReturnType")
                binding = full(parameters[0].get("Type"), ns) if parameters else None
                bound.setdefault(binding or "", {})[f"{ns}.{name}"] = {
                    "kind": tag.lower(),
                    "returns": full(returns.get("Type"), ns) if returns is not None else None,
                }
            elif tag == "Annotations" and "/" in el.get("Target", ""):
                # Core.Computed, or Core.Permissions of Read alone: a property a client may not set
                target, _, prop = el.get("Target", "").partition("/")
                computed = any(
                    a.get("Term") == "Org.OData.Core.V1.Computed" and a.get("Bool", "true") == "true"
                    for a in el.findall(f"{_EDM}Annotation")
                )
                read = any(
                    a.get("Term") == "Org.OData.Core.V1.Permissions"
                    and [m.text for m in a.iter(f"{_EDM}EnumMember")] == ["Org.OData.Core.V1.Permission/Read"]
                    for a in el.findall(f"{_EDM}Annotation")
                )
                if (computed or read) and "/" not in prop:
                    read_only.setdefault(full(target, ns) or target, []).append(prop)
            elif tag == "EntityContainer":
                for member in el:
                    mtag = member.tag.removeprefix(_EDM)
                    if mtag == "EntitySet":
                        sets[member.get("Name", "")] = full(member.get("EntityType"), ns) or ""
                    elif mtag == "Singleton":
                        singletons[member.get("Name", "")] = full(member.get("Type"), ns) or ""
    return {
        "namespaces": sorted(s.get("Namespace", "") for s in schemas),
        "types": dict(sorted(types.items())),
        "enums": dict(sorted(enums.items())),
        "bound": {k: dict(sorted(v.items())) for k, v in sorted(bound.items())},
        "read_only": {k: sorted(set(v)) for k, v in sorted(read_only.items())},
        "entity_sets": dict(sorted(sets.items())),
        "singletons": dict(sorted(singletons.items())),
    }


def derived(specs: Path) -> dict[Path, dict]:
    """Each model file and what it should hold, from the specs in `specs`."""
    return {
        BOX_MODEL: derive_box(
            json.loads((specs / BOX_SPEC).read_text("utf-8")),
            tuple(json.loads((specs / name).read_text("utf-8")) for name in BOX_VERSIONED_SPECS),
        ),
        GRAPH_MODEL: derive_graph((specs / GRAPH_SPEC).read_text("utf-8")),
        PERMISSIONS_MODEL: permissions_model.derive(json.loads((specs / permissions_model.SPEC).read_text("utf-8"))),
    }


def dump(model: dict) -> bytes:
    """Compact and reproducible: the same specs give the same bytes (gzip without a timestamp)."""
    text = json.dumps(model, separators=(",", ":"), sort_keys=False, ensure_ascii=False)
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def load(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def main(argv: list[str]) -> int:
    specs = Path(argv[0]) if argv else HERE.parents[2].parent / "shared" / "specs"
    for path, model in derived(specs).items():
        path.write_bytes(dump(model))
        print(f"{path.name}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
