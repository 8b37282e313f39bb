"""Spec answers (issue 19): Box and Graph requests nothing else answered, answered from the official
specs in ../shared/specs through a running `tapeproxy replay --spec` (`spec_only`) and through the
demo, whose world answers from the same models (issue 28), checked against those same spec files,
and through box-sdk-gen and msgraph-sdk.

The samples are drawn anew each run; the seed is printed (and named in failures):
TAPEPROXY_SPEC_SEED=<seed> replays a run's sample.
"""

import asyncio
import json
import os
import random
import re
import xml.etree.ElementTree as ET
from functools import cache

import pytest
import requests
from helpers import SPECS, CliProxy, graph_client, interaction, needs_spec, write_cassette
from test_files_box import box

needs_specs = needs_spec("box-openapi.json", "graph-v1.0-csdl.xml")
SEED = int(os.environ.get("TAPEPROXY_SPEC_SEED") or random.randrange(1 << 30))
print(f"tapeproxy spec sample seed: {SEED} (TAPEPROXY_SPEC_SEED={SEED} draws the same sample)")
BOX = "https://api.box.com/2.0"
# The demo's simulation owns tasks: ids it has (the spec's example ids are not in its world, and 404).
WORLD_IDS = {"task_id": "11446498", "task_assignment_id": "11446498"}
GRAPH = "https://graph.microsoft.com/v1.0"


@pytest.fixture(scope="module")
def spec_only(tmp_path_factory):
    """`tapeproxy replay --spec` over an empty cassette: every answer generated from the specs, no world
    behind it (what `--spec` gives a replay)."""
    folder = tmp_path_factory.mktemp("speconly")
    proxy = CliProxy(["replay", str(write_cassette(folder / "empty.yaml", [])), "--spec"], folder / "conf")
    yield proxy
    proxy.stop()


@pytest.fixture(params=["demo", "spec_only"])
def answering(request):
    """The demo's world and the spec answers: both refuse what the API refuses, in its words."""
    return request.getfixturevalue(request.param)


def session(proxy) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    s.headers["Authorization"] = "Bearer spec-test"
    return s


# --- the specs, read here independently of tapeproxy's derived models ---


@cache
def box_spec() -> dict:
    return json.loads((SPECS / "box-openapi.json").read_text())


@cache
def openapi_validator():
    """JSON Schema draft 4 as OpenAPI 3.0 reads it: `nullable: true` lets null through, also where Box
    says it as one part of an allOf (`allOf: [{$ref: ...}, {nullable: true}]`) or beside one; and a
    required property the schema does not define is not required."""
    import jsonschema

    draft4 = jsonschema.Draft4Validator.VALIDATORS

    def type_(validator, types, instance, schema):
        if instance is None and schema.get("nullable") is True:
            return
        yield from draft4["type"](validator, types, instance, schema)

    def all_of(validator, parts, instance, schema):
        if instance is None and (
            schema.get("nullable") is True or any(isinstance(p, dict) and p.get("nullable") is True for p in parts)
        ):
            return
        yield from draft4["allOf"](validator, parts, instance, schema)

    def required(validator, names, instance, schema):
        # a name the schema requires but never defines (Box's shared link requires "accessed") is the
        # spec's slip, not something an answer can have
        defined = schema.get("properties")
        names = [n for n in names if defined is None or n in defined]
        yield from draft4["required"](validator, names, instance, schema)

    return jsonschema.validators.extend(
        jsonschema.Draft4Validator, {"type": type_, "allOf": all_of, "required": required}
    )


def box_problems(op: dict, status: int, body) -> list[str]:
    """What in a Box answer its operation's response schema (the spec's own, refs and all) rejects."""
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    response = op["responses"].get(str(status))
    if response is None and status == 200 and "201" in op["responses"]:
        response = op["responses"]["201"]  # a GET the spec says answers 201; Box answers it 200
    if response is None:
        return [f"status {status} is not one the operation answers ({', '.join(op['responses'])})"]
    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema")
    if schema is None:
        return []
    registry = Registry().with_resource("box", Resource.from_contents(box_spec(), default_specification=DRAFT4))
    root = {"$ref": "box#" + schema["$ref"][1:]} if "$ref" in schema else schema
    found = openapi_validator()(root, registry=registry).iter_errors(body)
    return [f"{e.message[:160]} at {'.'.join(map(str, e.absolute_path))}" for e in found]


def box_get_operations() -> list[tuple[str, dict, str]]:
    """(path template, operation, a URL path for it) for every GET without a required query parameter."""
    out = []
    for path, item in sorted(box_spec()["paths"].items()):
        op = item.get("get")
        if op is None or "#" in path:  # "/shared_items#folders": another answer of the same request
            continue
        params = [*item.get("parameters", []), *op.get("parameters", [])]
        if any(p.get("required") and p["in"] == "query" for p in params):
            continue
        url = path
        for p in params:
            if p["in"] == "path":
                value = WORLD_IDS.get(p["name"]) or p.get("example") or "12345"
                url = url.replace("{" + p["name"] + "}", str(value))
        out.append((path, op, url))
    return out


def _json_2xx(op: dict) -> bool:
    return any("application/json" in (r.get("content") or {}) for c, r in op["responses"].items() if c[0] == "2")


@cache
def csdl() -> tuple[dict, dict, dict, dict]:
    """Graph's types as the CSDL states them: {type: (base, {property: type})}, enums, entity sets, singletons."""
    edm = "{http://docs.oasis-open.org/odata/ns/edm}"
    root = ET.fromstring((SPECS / "graph-v1.0-csdl.xml").read_text("utf-8").lstrip("\ufeff"))
    schemas = list(root.iter(f"{edm}Schema"))
    alias = {s.get("Alias"): s.get("Namespace") for s in schemas if s.get("Alias")}

    def qualify(name, ns):
        if name.startswith("Collection("):
            return f"Collection({qualify(name[11:-1], ns)})"
        head, _, last = name.rpartition(".")
        return name if name.startswith("Edm.") else f"{alias.get(head, head)}.{last}"

    types, enums, sets, singletons = {}, {}, {}, {}
    for s in schemas:
        ns = s.get("Namespace")
        for el in s:
            tag = el.tag.removeprefix(edm)
            if tag in ("EntityType", "ComplexType"):
                base = qualify(el.get("BaseType"), ns) if el.get("BaseType") else None
                props = {p.get("Name"): qualify(p.get("Type"), ns) for p in el.findall(f"{edm}Property")}
                types[f"{ns}.{el.get('Name')}"] = (base, props)
            elif tag == "EnumType":
                enums[f"{ns}.{el.get('Name')}"] = {m.get("Name") for m in el.findall(f"{edm}Member")}
            elif tag == "EntityContainer":
                for m in el:
                    if m.tag == f"{edm}EntitySet":
                        sets[m.get("Name")] = qualify(m.get("EntityType"), ns)
                    elif m.tag == f"{edm}Singleton":
                        singletons[m.get("Name")] = qualify(m.get("Type"), ns)
    return types, enums, sets, singletons


def graph_problems(type_name: str, value, where: str = "") -> list[str]:
    """What in a JSON value the CSDL's type rejects: unknown properties and wrongly typed values."""
    types, enums, _, _ = csdl()
    if type_name.startswith("Collection("):
        if not isinstance(value, list):
            return [f"{where}: not a collection"]
        return [p for i, v in enumerate(value) for p in graph_problems(type_name[11:-1], v, f"{where}[{i}]")]
    if type_name in enums:
        return [] if isinstance(value, str) and set(value.split(",")) <= enums[type_name] else [f"{where}: {value!r}"]
    if type_name in types:
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        named = str(value.get("@odata.type") or "").lstrip("#")
        t = named if named in types else ""
        while t and t != type_name:  # a value of a type derived from the one expected is checked as that
            t = types[t][0]
        type_name = named if t else type_name
        props, t = {}, type_name
        while t:
            base, own = types[t]
            props = {**own, **props}
            t = base
        out = []
        for k, v in value.items():
            if k.startswith("@odata.") or v is None:
                continue
            if k not in props:
                out.append(f"{where}.{k}: not a property of {type_name}")
            else:
                out.extend(graph_problems(props[k], v, f"{where}.{k}"))
        return out
    checks = {
        "Edm.String": lambda v: isinstance(v, str),
        "Edm.Boolean": lambda v: isinstance(v, bool),
        "Edm.Int32": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Edm.Int64": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Edm.Double": lambda v: isinstance(v, (int, float)),
        "Edm.Guid": lambda v: isinstance(v, str) and len(v) == 36,
        "Edm.DateTimeOffset": lambda v: isinstance(v, str) and "T" in v,
    }
    ok = checks.get(type_name, lambda v: True)
    return [] if ok(value) else [f"{where}: {value!r} is not {type_name}"]


def box_sdk_ok(op: dict, status: int, body) -> bool | None:
    """Whether box-sdk-gen's model of the response deserializes body (None: no model to try)."""
    import box_sdk_gen.schemas as models
    from box_sdk_gen.serialization.json import deserialize

    response = op["responses"].get(str(status)) or op["responses"].get("201") or {}
    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
    if "$ref" not in schema or not isinstance(body, dict):
        return None
    cls = getattr(models, re.sub(r"[^A-Za-z0-9]", "", schema["$ref"].rsplit("/", 1)[-1]), None)
    if cls is None:
        return None
    try:
        deserialize(body, cls)
    except Exception:
        return False
    return True


def graph_sdk_ok(type_name: str, body: dict) -> bool | None:
    """Whether msgraph-sdk's model of the type deserializes body (None: the SDK has no such model)."""
    import importlib

    from kiota_serialization_json.json_parse_node import JsonParseNode

    parts = type_name.removeprefix("microsoft.graph.").split(".")
    module = "msgraph.generated.models." + ".".join(re.sub(r"(?<!^)([A-Z])", r"_\1", p).lower() for p in parts)
    try:
        cls = getattr(importlib.import_module(module), parts[-1][0].upper() + parts[-1][1:], None)
    except ImportError:
        return None
    if cls is None:
        return None
    try:
        JsonParseNode(body).get_object_value(cls)
    except Exception:
        return False
    return True


# --- Box ---


@needs_specs
def test_box_get_operations_of_the_spec_answer_200_with_spec_valid_bodies(demo):
    """Every GET without a required query parameter (in an order drawn from the seed), answered by
    whatever answers it in the demo: the simulation, the bundled cassettes or the spec."""
    ops = box_get_operations()
    sample = random.Random(SEED).sample(ops, len(ops))
    s = session(demo)
    failures = []
    for path, op, url in sample:
        r = s.get(BOX + url)
        kept = ("instance_not_found", "in the trash)", "(metadata template ")
        simulated = "X-Tapeproxy-Source" not in r.headers
        if simulated and r.status_code == 404 and any(k in r.text for k in kept):
            continue  # the simulation keeps metadata and the trash: one nobody made is Box's 404
        if simulated and r.status_code == 202 and "/thumbnail." in url:
            continue  # a thumbnail not made yet: Box's 202, as the simulation answers the first ask
        problems = [] if r.status_code == 200 else [f"status {r.status_code}: {r.text[:200]}"]
        if not problems and "json" in r.headers.get("Content-Type", ""):
            problems = box_problems(op, 200, r.json())
            if box_sdk_ok(op, 200, r.json()) is False:
                problems.append("box-sdk-gen's model does not deserialize it")
        elif not problems and r.content and _json_2xx(op):
            problems = [f"{r.headers.get('Content-Type')} where the spec has JSON"]
        if problems:
            failures.append(f"GET {path}: {problems[0]}")
    share = 1 - len(failures) / len(sample)
    print(f"Box GET: {len(sample) - len(failures)} of {len(sample)} spec-valid 200s ({share:.0%}), seed {SEED}")
    assert share >= 0.95, f"seed {SEED}: " + "\n".join(failures)


def test_box_refuses_a_folder_without_parent_as_box_does(answering, spec_only):
    r = session(answering).post(f"{BOX}/folders", json={"name": "Reports"})
    assert r.status_code == 400 and (r.headers.get("X-Tapeproxy-Source") == "spec") == (answering is spec_only)
    body = r.json()
    assert body["type"] == "error" and body["code"] == "bad_request" and body["message"] == "Bad Request"
    assert body["context_info"]["errors"] == [
        {"reason": "missing_parameter", "name": "parent", "message": "'parent' is required"}
    ]


def test_box_wrong_types_enums_and_unknown_paths_get_boxs_errors(answering):
    s = session(answering)
    r = s.post(f"{BOX}/folders", json={"name": "Reports", "parent": {"id": 0}})
    assert r.status_code == 400 and r.json()["context_info"]["errors"][0]["name"] == "parent.id"
    r = s.put(f"{BOX}/folders/123", json={"sync_state": "sometimes"})
    assert r.status_code == 400 and r.json()["context_info"]["errors"][0]["name"] == "sync_state"
    r = s.get(f"{BOX}/no_such_thing/1")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    r = s.patch(f"{BOX}/folders/123", json={})
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed" and "GET" in r.headers["Allow"]


def test_box_objects_made_from_different_bodies_get_different_ids(spec_only):
    s = session(spec_only)
    made = [s.post(f"{BOX}/folders", json={"name": n, "parent": {"id": "0"}}).json() for n in ("A", "B", "A")]
    assert [m["name"] for m in made] == ["A", "B", "A"] and made[0]["parent"]["id"] == "0"
    assert made[0]["id"] != made[1]["id"] and made[0]["id"] == made[2]["id"] and made[0]["id"].isdigit()


def test_box_lists_are_one_page_so_paging_loops_end(spec_only):
    s = session(spec_only)
    first = s.get(f"{BOX}/folders/0/items", params={"usemarker": "true", "limit": "50"}).json()
    assert first["total_count"] == len(first["entries"]) == 1 and first["limit"] == 50
    assert first["next_marker"] is None  # the spec's example marker would lead a marker loop on forever
    assert s.get(f"{BOX}/folders/0/items", params={"offset": "1"}).json()["entries"] == []
    assert s.get(f"{BOX}/folders/0/items", params={"marker": "abc"}).json()["entries"] == []


def test_box_sdk_deserializes_spec_answers(spec_only, monkeypatch):
    client = box(spec_only, monkeypatch)
    folder = client.folders.get_folder_by_id("777")
    assert folder.id == "777" and folder.type.value == "folder"
    items = client.folders.get_folder_items("777")
    assert items.total_count == len(items.entries) >= 1
    me = client.users.get_user_me()
    assert me.id and me.login
    from box_sdk_gen.managers.folders import CreateFolderParent

    made = client.folders.create_folder("Reports", CreateFolderParent(id="0"))
    assert made.name == "Reports"
    collaborations = client.list_collaborations.get_folder_collaborations("777")
    assert isinstance(collaborations.entries, list)


def test_every_answer_carries_the_services_standard_headers_spec_answers_and_errors_included(spec_only, demo):
    """Box: box-request-id and Date; Graph: request-id, the client's client-request-id echoed,
    x-ms-ags-diagnostic and Date, on what the spec answers, the simulation answers and every error
    (one builder per API, in its profile). Apps and SDKs log them; a support ticket quotes them."""
    import email.utils

    def dated(r) -> bool:
        return email.utils.parsedate_to_datetime(r.headers["Date"]) is not None

    mine = {"client-request-id": "5a0c7e3e-0000-4000-8000-00000000c1e7"}
    for proxy in (spec_only, demo):
        s = session(proxy)
        graph = [
            s.get(f"{GRAPH}/users/48d31887-5fad-4d73-a9f5-3c356e68a038", headers=mine),  # an answer
            s.get(f"{GRAPH}/users/48d31887-5fad-4d73-a9f5-3c356e68a038/nosuch", headers=mine),  # an error
        ]
        for r in graph:
            assert r.headers["request-id"] and r.headers["client-request-id"] == mine["client-request-id"], r.headers
            assert "x-ms-ags-diagnostic" in r.headers and dated(r), (r.status_code, r.headers)
        box = [s.get(f"{BOX}/folders/777"), s.get(f"{BOX}/folders/777", params={"fields": 7}), s.get(f"{BOX}/nosuch")]
        for r in box:
            assert r.headers["box-request-id"] and dated(r), (r.status_code, r.headers)
    assert graph[0].headers.get("X-Tapeproxy-Source") != "spec"  # the demo's are the world's


# --- Graph ---


def test_graph_user_by_id_answers_a_user_with_its_context(spec_only):
    r = session(spec_only).get(f"{GRAPH}/users/48d31887-5fad-4d73-a9f5-3c356e68a038")
    assert r.status_code == 200 and r.headers["X-Tapeproxy-Source"] == "spec"
    body = r.json()
    assert body["@odata.context"] == f"{GRAPH}/$metadata#users/$entity"
    assert body["id"] == "48d31887-5fad-4d73-a9f5-3c356e68a038"
    if SPECS.is_dir():
        assert graph_problems("microsoft.graph.user", body) == []


def test_graph_patch_of_a_property_user_lacks_is_refused_naming_it(demo):
    s = session(demo)
    r = s.patch(f"{GRAPH}/users/48d31887", json={"displayName": "Adele", "favoriteColor": "blue"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "Request_BadRequest" and error["message"] == "Invalid property 'favoriteColor'."
    assert error["innerError"]["request-id"]
    assert s.patch(f"{GRAPH}/users/48d31887", json={"displayName": "Adele", "accountEnabled": True}).status_code == 204
    r = s.patch(f"{GRAPH}/users/48d31887", json={"accountEnabled": "yes"})
    assert r.status_code == 400 and "Edm.Boolean" in r.json()["error"]["message"]


def test_graph_refuses_setting_a_property_the_csdl_marks_computed_or_read_only(demo):
    s = session(demo)
    r = s.patch(f"{GRAPH}/connections/c1", json={"state": "ready"})  # Core.Computed in the CSDL
    assert r.status_code == 400 and r.json()["error"]["message"] == "Property 'state' is read-only and cannot be set."
    assert s.patch(f"{GRAPH}/connections/c1", json={"name": "Contoso"}).status_code == 200


def test_graph_posts_of_different_entities_get_different_ids_and_the_same_post_the_same(spec_only):
    s = session(spec_only)
    made = [s.post(f"{GRAPH}/groups", json={"displayName": name}).json() for name in ("A", "B", "A")]
    assert [m["displayName"] for m in made] == ["A", "B", "A"]
    assert made[0]["id"] != made[1]["id"] and made[0]["id"] == made[2]["id"]


def test_graph_delta_answers_entities_and_a_delta_link(demo):
    body = session(demo).get(f"{GRAPH}/users/delta()").json()
    assert body["@odata.deltaLink"].startswith(f"{GRAPH}/users/delta()?$deltatoken=")
    assert len(body["value"]) == 3 and all(u["id"] for u in body["value"])  # entities, with their ids
    if SPECS.is_dir():
        assert graph_problems("Collection(microsoft.graph.user)", body["value"]) == []


def test_graph_unknown_segments_query_options_and_select_get_graphs_errors(answering):
    s = session(answering)
    r = s.get(f"{GRAPH}/me/notAThing")
    error = r.json()["error"]
    assert r.status_code == 400 and error["code"] == "BadRequest"
    assert error["message"] == "Resource not found for the segment 'notAThing'."
    r = s.get(f"{GRAPH}/users", params={"$frobnicate": "1"})
    assert r.status_code == 400 and "'$frobnicate'" in r.json()["error"]["message"]
    r = s.get(f"{GRAPH}/me", params={"$select": "displayName,shoeSize"})
    assert r.status_code == 400 and "'shoeSize'" in r.json()["error"]["message"]
    r = s.get(f"{GRAPH}/me", params={"$select": "displayName,mail"})
    assert set(r.json()) == {"@odata.context", "displayName", "mail"}
    assert r.json()["@odata.context"] == f"{GRAPH}/$metadata#users(displayName,mail)/$entity"


@needs_specs
def test_graph_entity_sets_and_singletons_sampled_answer_csdl_valid_bodies(demo):
    _, _, sets, singletons = csdl()
    roots = [(f"/{name}", t, True) for name, t in sets.items()] + [(f"/{n}", t, False) for n, t in singletons.items()]
    s = session(demo)
    failures, checked = [], 0
    for path, type_name, is_set in random.Random(SEED).sample(roots, 30):
        r = s.get(GRAPH + path, params={"$top": "2"} if is_set else None)
        checked += 1
        if r.status_code != 200:
            failures.append(f"GET {path}: {r.status_code} {r.text[:150]}")
            continue
        body = r.json()
        problems = graph_problems(f"Collection({type_name})" if is_set else type_name, body.get("value", body), path)
        if "@odata.context" not in body:
            problems.append(f"{path}: no @odata.context")
        failures.extend(problems[:1])
        if is_set:  # and one of its entities by key
            checked += 1
            r = s.get(f"{GRAPH}{path}/key-{SEED}")
            if r.status_code == 404 and "X-Tapeproxy-Source" not in r.headers:
                continue  # the simulation has such entities (drives), and not this one
            if r.status_code != 200 or r.json().get("id") != f"key-{SEED}":
                failures.append(f"GET {path}/key-{SEED}: {r.status_code}")
            else:
                failures.extend(graph_problems(type_name, r.json(), path)[:1])
                if graph_sdk_ok(type_name, r.json()) is False:
                    failures.append(f"{path}: msgraph-sdk's model of {type_name} does not deserialize it")
    print(f"Graph: {checked - len(failures)} of {checked} CSDL-valid 200s, seed {SEED}")
    assert not failures, f"seed {SEED}: " + "\n".join(failures)


def test_msgraph_sdk_deserializes_and_pages_spec_answers(spec_only):
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.user import User
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder
    from msgraph_core import PageIterator

    async def go():
        client, transport = graph_client(spec_only)
        try:
            user = await client.users.by_user_id("adele@contoso.com").get()
            assert isinstance(user, User) and user.id == "adele@contoso.com" and user.display_name
            me = await client.me.get()
            assert me.id and me.id == (await client.me.get()).id  # the same each time
            query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=2)
            config = UsersRequestBuilder.UsersRequestBuilderGetRequestConfiguration(query_parameters=query)
            page = await client.users.get(request_configuration=config)
            assert len(page.value) == 2 and page.odata_next_link
            seen = []
            iterator = PageIterator(page, client.request_adapter)
            await iterator.iterate(lambda u: seen.append(u.id) or True)
            assert len(seen) == 3 and len(set(seen)) == 3  # two pages
            update = User(display_name="Adele", additional_data={"favoriteColor": "blue"})
            with pytest.raises(ODataError) as refused:
                await client.users.by_user_id("adele@contoso.com").patch(update)
            assert refused.value.error.code == "Request_BadRequest" and "favoriteColor" in refused.value.error.message
            groups = await client.me.member_of.get()
            assert len(groups.value) == 3
        finally:
            await transport.aclose()

    asyncio.run(go())


def test_msgraph_sdk_signed_in_as_an_app_gets_spec_answers(start_cli, confdir, monkeypatch):
    """As an app runs it: azure-identity signs in (the demo's token endpoint), msgraph-sdk's default
    client and middleware (retries included), the proxy from the environment."""
    from azure.identity.aio import ClientSecretCredential
    from msgraph import GraphServiceClient
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.user import User

    proxy = start_cli("demo")
    bundle = str(confdir / "tapeproxy-ca-bundle.pem")
    for name, value in {"HTTPS_PROXY": proxy.url, "SSL_CERT_FILE": bundle, "REQUESTS_CA_BUNDLE": bundle}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NO_PROXY", "")

    async def go():
        credential = ClientSecretCredential("contoso.onmicrosoft.com", "app", "secret", connection_verify=bundle)
        try:
            client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
            user = await client.users.by_user_id("adele@contoso.com").get()
            users = await client.users.get()
            tenant = await client.users.by_user_id("AdeleV@contoso.com").get()  # a user of the demo's tenant
            with pytest.raises(ODataError) as refused:
                await client.users.by_user_id("adele@contoso.com").patch(
                    User(additional_data={"favoriteColor": "blue"})
                )
            return user, users, tenant, refused.value
        finally:
            await credential.close()

    user, users, tenant, refused = asyncio.run(go())
    # a user nobody seeded is made up on its first read, and listed from then on
    assert user.id == "adele@contoso.com" and user.id in [u.id for u in users.value] and users.odata_next_link is None
    assert tenant.id == "5f6b7c0e-1f2a-4b3c-9d4e-000000000002" and tenant.display_name == "Adele Vance"
    assert refused.response_status_code == 400 and refused.error.message == "Invalid property 'favoriteColor'."


# --- precedence and honesty ---


def test_the_simulation_and_cassettes_still_come_first_in_the_demo(demo):
    task = session(demo).get(f"{BOX}/tasks/11446498")
    assert task.status_code == 200 and "X-Tapeproxy-Source" not in task.headers  # the simulation's


def test_replay_answers_misses_as_misses_unless_asked_for_spec_answers(start_cli, tmp_path):
    cassette = write_cassette(
        tmp_path / "c.yaml", [interaction("GET", f"{BOX}/folders/1", body={"id": "1", "type": "folder"})]
    )
    plain = start_cli("replay", str(cassette))
    r = session(plain).get(f"{BOX}/folders/2")
    assert r.headers.get("X-Tapeproxy-Miss") == "1" and "X-Tapeproxy-Source" not in r.headers
    spec = start_cli("replay", str(cassette), "--spec")
    s = session(spec)
    assert s.get(f"{BOX}/folders/1").json() == {"id": "1", "type": "folder"}  # the cassette first
    r = s.get(f"{BOX}/folders/2")
    assert r.status_code == 200 and r.headers["X-Tapeproxy-Source"] == "spec" and r.json()["id"] == "2"
    assert spec.stop() == 0
    out = spec.output
    assert "spec: Box GET /folders/{folder_id} (generated from the official spec, not recorded)" in out
    assert re.search(r"^\s*spec\s+api\.box\.com\s+1$", out, re.MULTILINE), out  # counted in the summary


def test_hostile_bodies_and_paths_get_the_apis_400_not_a_traceback(demo):
    s = session(demo)
    deep = "[" * 100_000 + "]" * 100_000  # deeper than Python's JSON reader goes
    r = s.post(f"{BOX}/folders", data=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["code"] == "bad_request"
    r = s.patch(f"{GRAPH}/users/u1", data=deep, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"
    r = s.get(f"{GRAPH}/me/mailFolders/f" + "/childFolders/f" * 1500)  # a long walk, answered
    assert r.status_code == 200 and r.json()["id"] == "f"
    r = s.get(f"{GRAPH}/me" + "/manager" * 1500)  # a directoryObject has no manager: Graph's 400
    assert r.status_code == 400 and "'manager'" in r.json()["error"]["message"]
    r = s.get(f"{GRAPH}/users", params={"$top": "99999999999", "$skiptoken": "99999999999"})
    assert r.status_code == 200 and r.json()["value"] == []
    assert "Traceback" not in demo.output and "internal error" not in demo.output


def test_graph_streams_reports_keys_and_query_numbers_through_the_demo(demo):
    """Issue 27, 9-12 and 14, as a client sees them."""
    s = session(demo)
    photo = s.get(f"{GRAPH}/me/photo/$value")
    assert photo.status_code == 200 and photo.headers["Content-Type"] == "image/gif" and photo.content[:6] == b"GIF89a"
    assert s.get(f"{GRAPH}/me/$value").status_code == 400
    report = s.get(f"{GRAPH}/reports/getEmailActivityCounts(period='D7')", allow_redirects=False)
    assert report.status_code == 302 and report.headers["Location"].startswith("https://reports.office.com/")
    csv = s.get(f"{GRAPH}/reports/getEmailActivityCounts(period='D7')")  # followed, through the proxy
    assert csv.status_code == 200 and csv.content.decode("utf-8-sig").startswith("Report Refresh Date,Send,")
    one = s.get(f"{GRAPH}/me/messages('AAMk')").json()
    assert one["id"] == "AAMk" and "value" not in one
    attachments = s.get(f"{GRAPH}/me/messages('AAMk')/attachments").json()["value"]
    assert all(a["id"] != "attachments" for a in attachments)
    for top in ("0", "9" * 5000, "²"):
        r = s.get(f"{GRAPH}/me/messages", params={"$top": top})
        assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest", (top, r.status_code)
    assert s.get(f"{GRAPH}/users", params={"$skiptoken": "9" * 5000}).status_code == 400
    counted = s.get(f"{GRAPH}/users/$count")
    assert counted.status_code == 400 and counted.json()["error"]["code"] == "Request_BadRequest"
    counted = s.get(f"{GRAPH}/users/$count", headers={"ConsistencyLevel": "eventual"}).text
    assert int(counted) == len(s.get(f"{GRAPH}/users").json()["value"])
    assert s.get(f"{GRAPH}/users/$ref").status_code == 400
    sent = s.post(f"{GRAPH}/me/sendMail", json={"message": {"subject": "Hi", "toRecipients": []}})
    assert sent.status_code == 202 and sent.content == b""
    assert s.post(f"{GRAPH}/me/events/e1/accept", json={"sendResponse": True}).status_code == 202
    assert "Traceback" not in demo.output


def test_box_requests_the_sdk_and_the_docs_send_are_taken_and_numbers_are_bounded(demo):
    """Issue 27, 12, 14 and 16: box-sdk-gen's True/False, AI bodies with an agent (one oneOf
    branch), invites by login (a `required` the spec contradicts), limits past the maximum (Box
    uses the maximum) and numbers of thousands of digits (400, never a 500)."""
    s = session(demo)
    search = s.get(f"{BOX}/search", params={"query": "x", "include_recent_shared_links": "True"})
    assert search.status_code == 200, search.text
    collab = {"item": {"type": "folder", "id": "1"}, "accessible_by": {"type": "user", "id": "2"}, "role": "editor"}
    assert s.post(f"{BOX}/collaborations", params={"notify": "False"}, json=collab).status_code == 201
    item = [{"id": "12345", "type": "file"}]
    bodies = {
        "ask": {"mode": "single_item_qa", "prompt": "Sum it up", "items": item},
        "text_gen": {"prompt": "Draft a reply", "items": item},
        "extract": {"prompt": "The dates", "items": item},
        "extract_structured": {"items": item, "fields": [{"key": "date"}]},
    }
    for name, body in bodies.items():
        agent = {"type": f"ai_agent_{name}", "long_text": {"model": "azure__openai__gpt_4o_mini"}}
        r = s.post(f"{BOX}/ai/{name}", json={**body, "ai_agent": agent})
        assert r.status_code == 200, (name, r.text)
    invite = s.post(f"{BOX}/invites", json={"enterprise": {"id": "1"}, "actionable_by": {"login": "ann@example.com"}})
    assert invite.status_code == 200, invite.text
    listed = s.get(f"{BOX}/folders/0/items", params={"limit": "1001"})
    assert listed.status_code == 200 and listed.json()["limit"] == 1000
    for params in ({"limit": "9" * 5000}, {"offset": "²"}):
        r = s.get(f"{BOX}/folders/0/items", params=params)
        assert r.status_code == 400 and r.json()["code"] == "bad_request" and len(r.text) < 2000, params
    deep = "[" * 100_000 + "]" * 100_000
    task = s.put(f"{BOX}/tasks/11446498", data=deep, headers={"Content-Type": "application/json"})
    assert task.status_code == 400 and task.json()["type"] == "error", task.text  # was a 500 RecursionError
    assert "Traceback" not in demo.output


def test_every_url_a_box_answer_hands_out_names_a_host_tapeproxy_answers(demo):
    """Issue 27, 15: the upload preflight's upload_url named upload-las.app.box.com, which was
    tunnelled to the network (box-sdk-gen tried 6 times). Every URL in every generated Box answer
    is on a host tapeproxy intercepts, and following one is answered here."""
    from tapeproxy.core import profiles
    from tapeproxy.core.spec import derive
    from tapeproxy.core.spec.box import BoxSpec

    spec = BoxSpec(derive.load(derive.BOX_MODEL))
    urls = {}
    for route in spec.routes:
        op = route.op
        path = "/2.0" + re.sub(r"\{(\w+)\}", "123", op["path"])
        a = spec.answer(op["method"].upper(), path, [], b"{}" if op["method"] in ("POST", "PUT") else b"")
        for url in re.findall(r'https?://[^"\s]+', json.dumps(a.body)) if a.body is not None else ():
            urls.setdefault(re.sub(r"^https?://([^/]+).*", r"\1", url), url)
    foreign = sorted(h for h in urls if not profiles.api_host(h))
    assert not foreign, foreign
    s = session(demo)
    for host, url in sorted(urls.items()):
        if ".realtime." in host:
            continue  # a long-poll: answered "reconnect" after 30 s (it waits, nothing else does)
        r = s.get(url.replace("{+asset_path}", "1.png"), allow_redirects=False)
        assert r.status_code < 500 and f"tunnelling {host}" not in demo.output, (url, r.status_code)
        assert r.headers.get("X-Tapeproxy-Miss") is None, (url, r.text[:200])


def test_box_sdk_upload_with_preflight_check_stays_offline(demo, monkeypatch):
    from box_sdk_gen.managers.uploads import (
        UploadWithPreflightCheckAttributes,
        UploadWithPreflightCheckAttributesParentField,
    )

    client = box(demo, monkeypatch)
    attributes = UploadWithPreflightCheckAttributes(
        name="preflight.txt", size=11, parent=UploadWithPreflightCheckAttributesParentField(id="0")
    )
    import io

    files = client.uploads.upload_with_preflight_check(attributes, io.BytesIO(b"hello there"))
    assert files.entries[0].name == "preflight.txt" and files.entries[0].size == 11
    assert "tunnelling upload" not in demo.output  # the upload host is answered here, not passed to the network


def test_msgraph_sdk_with_its_default_middleware_gets_a_report_and_users_count_as_graph_gives_them(start_cli):
    """Issue 27, 9 and 14 through msgraph-sdk's default client: its redirect handler follows the
    report's 302 to reports.office.com (answered here, offline), and /users/$count without
    ConsistencyLevel is Graph's 400, with it a number."""
    from kiota_abstractions.api_error import APIError
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    proxy = start_cli("demo")

    async def flow():
        client, transport = graph_client(proxy)
        try:
            csv = await client.reports.get_email_activity_counts_with_period("D7").get()
            with pytest.raises(APIError) as refused:
                await client.users.count.get()
            config = RequestConfiguration()
            config.headers.add("ConsistencyLevel", "eventual")
            counted = await client.users.count.get(request_configuration=config)
            users = await client.users.get()
            return csv, refused.value, counted, users
        finally:
            await transport.aclose()

    csv, refused, counted, users = asyncio.run(flow())
    assert csv.decode("utf-8-sig").startswith("Report Refresh Date,Send,Receive,Read,Report Date,Report Period")
    assert refused.response_status_code == 400 and counted == len(users.value) >= 4  # the tenant's users
    assert "tunnelling" not in proxy.output
