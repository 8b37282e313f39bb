"""Every resource and error the simulation serves has the official shape (tests/shapes.py), and the
kept shapes agree with Box's OpenAPI and Graph's CSDL wherever those are at hand."""

import json
import xml.etree.ElementTree as ET

import jsonschema
import pytest
import requests
import shapes
from helpers import AUTH, BOX_TASK_URL, GRAPH_DEF, GRAPH_TASK_URL, SPECS, needs_spec

G = "https://graph.microsoft.com/v1.0"
B = "https://api.box.com/2.0"
CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


def valid(body, schema):
    jsonschema.validate(body, schema, format_checker=CHECKER)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """What a demo served for a walk through every simulated resource and error."""
    from helpers import CliProxy

    proxy = CliProxy(["demo"], tmp_path_factory.mktemp("conformance"))
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy.url}
    s.verify = proxy.ca
    s.headers.update(AUTH)
    out = {}
    try:
        out["definitions"] = s.get(f"{G}/print/taskDefinitions")
        out["definition"] = s.post(f"{G}/print/taskDefinitions", json={"displayName": "D", "createdBy": {"appId": "a"}})
        out["definition_get"] = s.get(f"{G}/print/taskDefinitions/{GRAPH_DEF}")
        out["tasks"] = s.get(f"{G}/print/taskDefinitions/{GRAPH_DEF}/tasks?$top=3")
        out["task"] = s.get(GRAPH_TASK_URL)
        out["task_patch"] = s.patch(GRAPH_TASK_URL, json={"status": {"state": "aborted"}})
        out["task_create"] = s.post(
            f"{G}/print/taskDefinitions/{GRAPH_DEF}/tasks",
            json={"parentUrl": "https://x/jobs/1", "status": {"state": "pending"}},
        )
        out["graph_400"] = s.patch(GRAPH_TASK_URL, json={"status": {"state": "nope"}})
        out["graph_404"] = s.get(f"{G}/print/taskDefinitions/nope")
        out["graph_401"] = requests.get(GRAPH_TASK_URL, proxies=s.proxies, verify=proxy.ca)
        out["box_task"] = s.get(BOX_TASK_URL)
        out["box_task_put"] = s.put(BOX_TASK_URL, json={"message": "m", "due_at": "2026-12-24T17:00:00Z"})
        created = s.post(f"{B}/tasks", json={"item": {"id": "12345", "type": "file"}})
        out["box_task_create"] = created
        out["box_assignment_create"] = s.post(
            f"{B}/task_assignments",
            json={"task": {"id": created.json()["id"], "type": "task"}, "assign_to": {"login": "new@example.com"}},
        )
        out["box_assignment_put"] = s.put(f"{B}/task_assignments/11446498", json={"resolution_state": "approved"})
        out["box_assignments"] = s.get(f"{BOX_TASK_URL}/assignments")
        out["box_file_tasks"] = s.get(f"{B}/files/12345/tasks")
        out["box_400"] = s.put(BOX_TASK_URL, json={"action": "nope"})
        out["box_404"] = s.get(f"{B}/tasks/999")
        out["box_405"] = s.post(f"{B}/tasks/11446498/assignments", json={})
    finally:
        proxy.stop()
    return out


@pytest.mark.parametrize(
    "name, status, schema",
    [
        ("definitions", 200, shapes.graph_collection(shapes.GRAPH_PRINT_TASK_DEFINITION)),
        ("definition", 201, shapes.GRAPH_PRINT_TASK_DEFINITION),
        ("definition_get", 200, shapes.GRAPH_PRINT_TASK_DEFINITION),
        ("tasks", 200, shapes.graph_collection(shapes.GRAPH_PRINT_TASK)),
        ("task", 200, shapes.GRAPH_PRINT_TASK),
        ("task_patch", 200, shapes.GRAPH_PRINT_TASK),
        ("task_create", 201, shapes.GRAPH_PRINT_TASK),
        ("graph_400", 400, shapes.GRAPH_ERROR),
        ("graph_404", 404, shapes.GRAPH_ERROR),
        ("graph_401", 401, shapes.GRAPH_ERROR),
        ("box_task", 200, shapes.BOX_TASK),
        ("box_task_put", 200, shapes.BOX_TASK),
        ("box_task_create", 201, shapes.BOX_TASK),
        ("box_assignment_create", 201, shapes.BOX_TASK_ASSIGNMENT),
        ("box_assignment_put", 200, shapes.BOX_TASK_ASSIGNMENT),
        ("box_assignments", 200, shapes.BOX_TASK_ASSIGNMENTS),
        ("box_file_tasks", 200, shapes.BOX_TASKS),
        ("box_400", 400, shapes.BOX_CLIENT_ERROR),
        ("box_404", 404, shapes.BOX_CLIENT_ERROR),
        ("box_405", 405, shapes.BOX_CLIENT_ERROR),
    ],
)
def test_served_bodies_have_the_official_shapes(served, name, status, schema):
    r = served[name]
    assert r.status_code == status, r.text
    valid(r.json(), schema)


def test_the_shapes_check_catches_a_wrong_body():
    with pytest.raises(jsonschema.ValidationError):
        valid({"id": "1", "type": "task", "action": "approve"}, shapes.BOX_TASK)
    with pytest.raises(jsonschema.ValidationError):
        valid({"id": "1", "parentUrl": "u", "status": {"state": "done", "description": ""}}, shapes.GRAPH_PRINT_TASK)


# -- the kept shapes against the official specs -------------------------------------------------------
def _box_properties(spec, name, seen=()):
    """Property name -> enum (or None) of a Box schema, following allOf and $ref."""
    schema = spec["components"]["schemas"][name]
    props = {}
    for part in [schema, *schema.get("allOf", [])]:
        if "$ref" in part:
            props.update(_box_properties(spec, part["$ref"].rsplit("/", 1)[1]))
        for key, value in part.get("properties", {}).items():
            enum = value.get("enum")
            for sub in value.get("allOf", []):
                enum = enum or sub.get("enum")
            props[key] = enum
    return props


@needs_spec("box-openapi.json")
@pytest.mark.parametrize("name", sorted(shapes.BOX))
def test_kept_box_shapes_match_the_openapi(name):
    spec = json.loads((SPECS / "box-openapi.json").read_text())
    official = _box_properties(spec, name)
    kept = shapes.BOX[name]["properties"]
    assert set(kept) == set(official), name
    for prop, enum in official.items():
        if enum:
            assert set(kept[prop]["enum"]) == set(enum), (name, prop)
    nullable = {p for p, v in kept.items() if "null" in (v.get("type") or [])}
    spec_nullable = {
        p for p, v in spec["components"]["schemas"][name].get("properties", {}).items() if v.get("nullable")
    }
    assert nullable - spec_nullable <= {p for n, p in shapes.DEVIATIONS if n == name}, "an unlisted deviation"
    for prop in ("item", "created_by", "assigned_to", "assigned_by"):
        if prop in kept:
            ref = "File--Mini" if prop == "item" else "User--Mini"
            mini = set(_box_properties(spec, ref))
            assert set(kept[prop]["properties"]) == mini, (name, prop)


@needs_spec("graph-v1.0-csdl.xml")
@pytest.mark.parametrize("name", sorted(shapes.GRAPH))
def test_kept_graph_shapes_match_the_csdl(name):
    root = ET.parse(SPECS / "graph-v1.0-csdl.xml").getroot()
    ns = {"e": "http://docs.oasis-open.org/odata/ns/edm"}
    node = next(n for n in root.iterfind(".//e:Schema/*", ns) if n.get("Name") == name)
    official = {p.get("Name"): p for p in node.iterfind("e:Property", ns)}
    if node.get("BaseType") == "graph.entity":
        official["id"] = None
    kept = {k for k in shapes.GRAPH[name]["properties"] if not k.startswith("@odata.")}
    assert kept == set(official), name
    required = set(shapes.GRAPH[name].get("required", []))
    for prop, element in official.items():
        if element is not None and element.get("Nullable") == "false":
            assert prop in required, (name, prop)
    enum = next(n for n in root.iterfind(".//e:EnumType", ns) if n.get("Name") == "printTaskProcessingState")
    assert set(shapes.GRAPH_PRINT_TASK_STATUS["properties"]["state"]["enum"]) == {
        m.get("Name") for m in enum.iterfind("e:Member", ns)
    }
