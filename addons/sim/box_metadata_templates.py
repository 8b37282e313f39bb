"""Box metadata templates of the enterprise: created, read by scope and key or by id, listed,
changed by Box's template operations (addField, editField, removeField, editTemplate, the enum and
multi-select option operations, reordering) and deleted. A world file seeds them under
`box.metadata_templates`.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import yamlfile
from ..core.paths import Routes
from ..core.profiles import box as box_profile
from . import api, auth, box_metadata, worldfile
from .http import ApiError, Reply, SimRequest
from .module import ResourceModule
from .store import Transaction

if TYPE_CHECKING:
    from .world import World

HOSTS = ("api.box.com",)
ROUTES = Routes(
    ("create", "/2.0/metadata_templates/schema"),
    ("by_instance", "/2.0/metadata_templates"),
    ("template", "/2.0/metadata_templates/{scope}/{template}/schema"),
    ("scope_or_id", "/2.0/metadata_templates/{scope_or_id}"),
)
TEMPLATES = "box:metadata+templates"  # by "{scope}|{templateKey}"
SCOPES = ("enterprise", "global")
FIELD_TYPES = ("string", "float", "date", "enum", "multiSelect", "integer", "taxonomy")


def handle(world: World, req: SimRequest) -> Reply | None:
    found = ROUTES.match(req.path) if req.host in HOSTS else None
    if found is None:
        return None
    route, params = found
    auth.check_box(req)
    with world.lock, world.store.transaction() as tx:
        if route == "create":
            if req.method != "POST":
                raise ApiError("method_not_allowed")
            return api.box_reply(201, _create(tx, req.json()))
        if route == "by_instance":
            wanted = req.query.get("metadata_instance_id")
            if req.method != "GET" or not wanted:
                return None  # the spec answers (and refuses) the rest
            return api.box_reply(200, {"entries": _of_instance(tx, wanted), "limit": 100, "next_marker": None})
        if route == "scope_or_id":
            key = params["scope_or_id"]
            if req.method != "GET":
                raise ApiError("method_not_allowed")
            if key in SCOPES:
                listed = tx.scan(TEMPLATES, lambda t: _scope_of(t) == key)
                return api.box_reply(200, {"entries": listed, "limit": 100, "next_marker": None, "prev_marker": None})
            template = next(iter(tx.scan(TEMPLATES, lambda t: t.get("id") == key)), None)
            if template is None:
                raise ApiError("not_found", f"Could not find the specified resource (metadata template {key})")
            return api.box_reply(200, template)
        scope, template_key = params["scope"], params["template"]
        if scope not in SCOPES:
            raise ApiError("bad_request", f"Bad Request: the scope is one of {', '.join(SCOPES)}, not {scope!r}")
        current = tx.get(TEMPLATES, f"{scope}|{template_key}")
        if current is None:
            raise ApiError("not_found", f"Could not find the specified resource (metadata template {template_key})")
        if req.method == "GET":
            return api.box_reply(200, current)
        if req.method == "DELETE":
            tx.delete(TEMPLATES, f"{scope}|{template_key}")
            return Reply(204, box_profile.standard_headers(), b"")
        if req.method == "PUT":
            changed = _operated(current, req.json())
            tx.put(TEMPLATES, f"{scope}|{template_key}", changed)
            return api.box_reply(200, changed)
        raise ApiError("method_not_allowed")


def _scope_of(template: dict) -> str:
    return "global" if template.get("scope") == "global" else "enterprise"


def _create(tx: Transaction, data: Any) -> dict:
    if not isinstance(data, dict) or not isinstance(data.get("scope"), str) or not data.get("displayName"):
        raise ApiError("bad_request", "Bad Request: a template needs its scope and displayName")
    scope = data["scope"]
    if scope not in SCOPES:
        raise ApiError("bad_request", f"Bad Request: the scope is one of {', '.join(SCOPES)}, not {scope!r}")
    key = str(data.get("templateKey") or str(data["displayName"]).replace(" ", "")[:64])
    if tx.has(TEMPLATES, f"{scope}|{key}"):
        raise ApiError("conflict", f"A template with the key {key!r} already exists", code="conflict", status=409)
    template = {
        "id": str(uuid.uuid4()),
        "type": "metadata_template",
        "scope": "global" if scope == "global" else f"enterprise_{box_profile.ENTERPRISE['id']}",
        "templateKey": key,
        "displayName": str(data["displayName"]),
        "hidden": bool(data.get("hidden", False)),
        "fields": [_field(f, None) for f in data.get("fields") or []],
        "copyInstanceOnItemCopy": bool(data.get("copyInstanceOnItemCopy", False)),
    }
    tx.put(TEMPLATES, f"{scope}|{key}", template)
    return template


def _field(data: Any, key: str | None) -> dict:
    if not isinstance(data, dict):
        raise ApiError("bad_request", "Bad Request: a field is an object")
    field = {**data, "key": str(data.get("key") or key or "")}
    if not field["key"] or field.get("type") not in FIELD_TYPES:
        raise ApiError("bad_request", f"Bad Request: a field needs a key and a type ({', '.join(FIELD_TYPES)})")
    field.setdefault("displayName", field["key"])
    field.setdefault("hidden", False)
    field["id"] = str(data.get("id") or uuid.uuid4())
    if field["type"] in ("enum", "multiSelect"):
        field["options"] = [{"key": str(o.get("key")), "id": str(uuid.uuid4())} for o in field.get("options") or []]
    return field


def _operated(template: dict, operations: Any) -> dict:
    """The template after Box's operations, all or nothing."""
    if not isinstance(operations, list):
        raise ApiError("bad_request", "Bad Request: the body is a list of operations")
    out = {**template, "fields": [dict(f) for f in template.get("fields", [])]}
    for op in operations:
        if not isinstance(op, dict):
            raise ApiError("bad_request", "Bad Request: an operation is an object")
        _apply(out, op)
    return out


def _apply(template: dict, op: dict) -> None:
    kind, data, fields = op.get("op"), op.get("data") or {}, template["fields"]
    field = next((f for f in fields if f["key"] == op.get("fieldKey")), None)
    if kind == "editTemplate":
        template.update({k: v for k, v in data.items() if k in ("displayName", "hidden", "copyInstanceOnItemCopy")})
    elif kind == "addField":
        if any(f["key"] == (data.get("key") or op.get("fieldKey")) for f in fields):
            raise ApiError("bad_request", f"Bad Request: the field {op.get('fieldKey')!r} is already there")
        fields.append(_field(data, op.get("fieldKey")))
    elif kind == "reorderFields":
        order = {k: i for i, k in enumerate(data.get("fieldKeys") or [])}
        fields.sort(key=lambda f: order.get(f["key"], len(order)))
    elif field is None:
        raise ApiError("bad_request", f"Bad Request: no field {op.get('fieldKey')!r} in the template")
    elif kind == "editField":
        field.update({k: v for k, v in data.items() if k != "id"})
    elif kind == "removeField":
        fields.remove(field)
    elif kind in ("addEnumOption", "addMultiSelectOption"):
        field.setdefault("options", []).append({"key": str(data.get("key")), "id": str(uuid.uuid4())})
    elif kind in ("editEnumOption", "editMultiSelectOption", "removeEnumOption", "removeMultiSelectOption"):
        option = next((o for o in field.get("options", []) if o["key"] == op.get("enumOptionKey")), None)
        if option is None:
            raise ApiError("bad_request", f"Bad Request: no option {op.get('enumOptionKey')!r} in the field")
        if kind.startswith("edit"):
            option.update({k: v for k, v in data.items() if k != "id"})
        else:
            field["options"].remove(option)
    elif kind in ("reorderEnumOptions", "reorderMultiSelectOptions"):
        order = {k: i for i, k in enumerate(data.get("enumOptionKeys") or data.get("multiSelectOptionKeys") or [])}
        field.get("options", []).sort(key=lambda o: order.get(o["key"], len(order)))
    else:
        raise ApiError("bad_request", f"Bad Request: {kind!r} is not an operation on a template")


def _of_instance(tx: Transaction, instance_id: str) -> list[dict]:
    """The template of a metadata instance (GET /metadata_templates?metadata_instance_id=)."""
    instance = next(iter(tx.scan(box_metadata.INSTANCES, lambda r: r.get("$id") == instance_id)), None)
    if instance is None:
        return []
    scope = "global" if instance["$scope"] == "global" else "enterprise"
    template = tx.get(TEMPLATES, f"{scope}|{instance['$template']}")
    return [template] if template is not None else []


def load(check: yamlfile.Checker, w: World, world_doc: dict[str, dict], blobs: Path | None) -> None:
    """box.metadata_templates: templates as POST /metadata_templates/schema takes them."""
    items = worldfile.list_of(check, world_doc["box"].get("metadata_templates"), ("box", "metadata_templates"))
    with w.store.transaction() as tx:
        for i, item in enumerate(items):
            data = dict(check.mapping(item, ("box", "metadata_templates", i), "a template"))
            try:
                made = _create(tx, {k: v for k, v in data.items() if k != "id"})
            except ApiError as e:
                raise check.fail(("box", "metadata_templates", i), e.message or e.name) from None
            if data.get("id"):
                made["id"] = str(data["id"])
                tx.put(TEMPLATES, f"{data['scope']}|{made['templateKey']}", made)


def dump(world: World) -> dict[str, dict]:
    with world.store.transaction() as tx:
        saved = [{**t, "scope": _scope_of(t)} for t in tx.scan(TEMPLATES)]
    return {"box": {"metadata_templates": saved}}


WORLD_SCHEMA: dict = {
    "box": {
        "metadata_templates": worldfile.records(
            {
                "id": worldfile.TEXT,
                "scope": {"enum": list(SCOPES)},
                "templateKey": worldfile.TEXT,
                "displayName": worldfile.TEXT,
                "hidden": {"type": "boolean"},
                "fields": {"type": "array", "items": {"type": "object"}},
                "copyInstanceOnItemCopy": {"type": "boolean"},
            },
            required=("scope", "displayName"),
            description="the enterprise's metadata templates, as POST /metadata_templates/schema takes them",
        )
    }
}

MODULE = ResourceModule(
    name="Box metadata template(s)",
    on_host=lambda host: host in HOSTS,
    handle=handle,
    routes=(ROUTES,),
    schema=WORLD_SCHEMA,
    count=lambda world: world.store.count(TEMPLATES),
    load=load,
    dump=dump,
    collections=(TEMPLATES,),
)
