"""The API models derived from ../shared/specs (issue 19): shipped, current, and read as the APIs
read requests. Through a proxy: test_spec_answers.py."""

from helpers import SPECS, needs_spec

from tapeproxy.core.spec import derive
from tapeproxy.core.spec.box import BoxSpec
from tapeproxy.core.spec.graph import GraphSpec


@needs_spec("box-openapi.json", "graph-v1.0-csdl.xml", "graph-permissions.json")
def test_the_shipped_models_are_what_the_specs_give_today():
    """A spec file updated without re-running derive.py fails here."""
    for path, model in derive.derived(SPECS).items():
        shipped = derive.load(path)
        assert shipped == model, f"{path.name} is stale: run python -m tapeproxy.core.spec.derive {SPECS}"
        assert derive.dump(model) == path.read_bytes()  # reproducible, byte for byte


def test_the_models_are_small_and_hold_both_apis_whole():
    box, graph = derive.load(derive.BOX_MODEL), derive.load(derive.GRAPH_MODEL)
    assert derive.BOX_MODEL.stat().st_size + derive.GRAPH_MODEL.stat().st_size < 400_000
    assert len(box["ops"]) > 250 and {"GET /folders/{folder_id}", "POST /folders"} <= {
        f"{op['method']} {op['path']}" for op in box["ops"]
    }
    assert (
        graph["singletons"]["me"] == "microsoft.graph.user" and graph["entity_sets"]["users"] == "microsoft.graph.user"
    )
    assert graph["types"]["microsoft.graph.user"]["base"] == "microsoft.graph.directoryObject"
    assert "state" in graph["read_only"]["microsoft.graph.externalConnectors.externalConnection"]  # Core.Computed


def test_box_routes_prefer_literal_segments_and_params_inside_segments():
    box = BoxSpec(derive.load(derive.BOX_MODEL))
    route, params, _ = box.find("GET", "/files/upload_sessions/abc")
    assert route.op["path"] == "/files/upload_sessions/{upload_session_id}" and params == {"upload_session_id": "abc"}
    route, params, _ = box.find("GET", "/files/12345/thumbnail.png")
    assert route.op["path"] == "/files/{file_id}/thumbnail.{extension}" and params["extension"] == "png"
    route, _, methods = box.find("PATCH", "/folders/1")
    assert route is None and "GET" in methods


def test_graph_paths_resolve_as_odata_reads_them():
    graph = GraphSpec(derive.load(derive.GRAPH_MODEL))
    assert graph.resolve(["users('a b')"]).key == "a b"
    at = graph.resolve(["me", "manager", "microsoft.graph.user"])
    assert (at.kind, at.type) == ("entity", "microsoft.graph.user")
    at = graph.resolve(["groups", "g1", "members", "$count"])
    assert at.kind == "count"
    at = graph.resolve(["me", "getMemberGroups"])
    assert at.kind == "operation" and at.operation["kind"] == "action"
    same = [graph.answer("GET", p, [], b"").body["id"] for p in ("/v1.0/me", "/v1.0/me")]
    assert same[0] == same[1]


def _graph() -> GraphSpec:
    return GraphSpec(derive.load(derive.GRAPH_MODEL))


def _reachable(graph: GraphSpec) -> dict[str, str]:
    """A path to an entity of each entity type Graph's sets, singletons and navigations lead to."""
    paths: dict[str, str] = {}
    queue = [(f"/v1.0/{n}/x", t) for n, t in graph.sets.items()] + [
        (f"/v1.0/{n}", t) for n, t in graph.singletons.items()
    ]
    while queue:
        path, t = queue.pop(0)
        if t in paths or path.count("/") > 8:
            continue
        paths[t] = path
        for name, (target, _) in graph.navs(t).items():
            inner = target[11:-1] if target.startswith("Collection(") else target
            queue.append((f"{path}/{name}" + ("/x" if target.startswith("Collection(") else ""), inner))
    return paths


def test_no_graph_spec_answer_is_a_500_every_bound_operation_the_model_has():
    """Issue 27, 9: the 101 bound functions returning Edm.Stream answered 500 TypeError (a JSON
    body with a value nothing can serialise). Every bound operation on a type Graph's paths
    reach (through a cast where it is bound to a derived type) is answered below 500, with a body
    a response can carry."""
    import json

    graph = _graph()
    reachable = _reachable(graph)
    answered, streams = set(), 0
    for binding, ops in graph.bound.items():
        collection = binding.startswith("Collection(")
        inner = binding[11:-1] if collection else binding
        base = next((p for t, p in reachable.items() if graph.derives(inner, t)), None)
        if base is None:
            continue
        target = next(t for t, p in reachable.items() if p == base)
        if target != inner:
            base = f"{base}/{inner}"
        if collection:
            base = base.rsplit("/", 1)[0] if target == inner else base.replace("/x/", "/", 1)
        for name, op in ops.items():
            method = "GET" if op["kind"] == "function" else "POST"
            url = f"{base}/{name.rsplit('.', 1)[-1]}"
            a = graph.answer(method, url, [], b"{}" if method == "POST" else b"")
            assert a.status < 500, (url, a.status, a.message)
            assert a.body is None or isinstance(a.body, bytes) or json.dumps(a.body)
            assert a.code == "" or a.status >= 400, (url, a.code)
            if a.status < 400:
                answered.add((binding, name))
                streams += op.get("returns") == "Edm.Stream"
    total = sum(len(ops) for ops in graph.bound.values())
    assert len(answered) > 0.8 * total and streams >= 90, (len(answered), total, streams)


def test_graph_streams_value_segments_and_reports_answer_as_graph_does():
    graph = _graph()
    photo = graph.answer("GET", "/v1.0/me/photo/$value", [], b"")
    assert photo.status == 200 and photo.content_type == "image/gif" and photo.code == ""
    attachment = graph.answer("GET", "/v1.0/me/messages/AAMk/attachments/a1/$value", [], b"")
    assert attachment.status == 200 and attachment.code == "" and isinstance(attachment.body, bytes)
    mime = graph.answer("GET", "/v1.0/me/messages/AAMk/$value", [], b"")
    assert mime.status == 200 and mime.body.startswith(b"Subject: ")
    assert graph.answer("GET", "/v1.0/me/$value", [], b"").status == 400  # a user is not a media entity
    assert graph.answer("GET", "/v1.0/me/displayName/$value", [], b"").content_type == "text/plain"
    report = graph.answer("GET", "/v1.0/reports/getEmailActivityCounts(period='D7')", [], b"")
    assert report.status == 302 and report.body is None
    location = dict(report.headers)["Location"]
    assert location.startswith("https://reports.office.com/data/download/getEmailActivityCounts/")
    csv = graph.report(location.split("reports.office.com", 1)[1])
    assert csv.status == 200 and csv.body.decode("utf-8-sig").startswith("Report Refresh Date,Send,Receive,Read,")


def test_graph_keys_in_parentheses_after_a_navigation_name_the_entity():
    """Issue 27, 10: only the first segment's key in parentheses was read."""
    graph = _graph()
    one = graph.answer("GET", "/v1.0/me/messages('AAMk')", [], b"")
    assert one.status == 200 and one.body["id"] == "AAMk" and "value" not in one.body
    assert one.body["@odata.context"].endswith("/$entity")
    under = graph.answer("GET", "/v1.0/me/messages('AAMk')/attachments", [], b"")
    assert under.status == 200 and isinstance(under.body["value"], list)
    assert "messages('AAMk')/attachments" in under.body["@odata.context"]
    named = graph.answer("GET", "/v1.0/users('u1')/messages(id='AAMk')", [], b"")
    assert named.status == 200 and named.body["id"] == "AAMk"


def test_graph_query_numbers_top_zero_count_ref_and_accepted_actions():
    """Issue 27, 11, 12, 14."""
    graph = _graph()
    for value in ("0", "9" * 5000, "²", "-1", ""):
        a = graph.answer("GET", "/v1.0/me/messages", [("$top", value)], b"")
        assert a.status == 400 and a.code == "BadRequest" and len(a.message) < 200, value
    assert graph.answer("GET", "/v1.0/me/messages", [("$skiptoken", "9" * 5000)], b"").status == 400
    page = graph.answer("GET", "/v1.0/me/messages", [("$top", "2")], b"").body
    last = graph.answer("GET", "/v1.0/me/messages", [("$top", "2"), ("$skiptoken", "2")], b"").body
    assert "@odata.nextLink" in page and "@odata.nextLink" not in last and len(last["value"]) == 1
    refused = graph.answer("GET", "/v1.0/users/$count", [], b"")
    assert (refused.status, refused.code, refused.message) == (
        400,
        "Request_BadRequest",
        "$count is not currently supported.",
    )
    counted = graph.answer("GET", "/v1.0/users/$count", [], b"", [("ConsistencyLevel", "eventual")])
    assert counted.status == 200 and counted.body.isdigit()
    assert graph.answer("GET", "/v1.0/me/messages/$count", [], b"").status == 200  # not a directory object
    assert graph.answer("GET", "/v1.0/users/$ref", [], b"").status == 400
    assert graph.answer("GET", "/v1.0/groups/g1/members/$ref", [], b"").status == 200
    for path in ("/v1.0/me/sendMail", "/v1.0/me/events/e1/accept", "/v1.0/me/messages/m1/send"):
        assert graph.answer("POST", path, [], b"{}").status == 202, path


def test_graph_names_query_options_and_enum_values_are_taken_in_any_casing():
    from tapeproxy.core.spec import loaded

    spec = loaded.graph()
    assert spec.canonical("/v1.0/Me/TODO/lists/L1/tasks/T1/checklistitems") == (
        "/v1.0/me/todo/lists/L1/tasks/T1/checklistItems"
    )
    assert spec.canonical("/v1.0/users/AbC/microsoft.graph.USER") == "/v1.0/users/AbC/microsoft.graph.user"
    assert spec.canonical("/v1.0/nowhere/Else") == "/v1.0/nowhere/Else"  # leads nowhere: as it was
    assert spec.canonical_query([("$TOP", "1"), ("Other", "x")]) == [("$top", "1"), ("Other", "x")]
    data, bad = spec.check_body("microsoft.graph.message", b'{"importance": "HIGH", "body": {"contentType": "Html"}}')
    assert bad is None and data == {"importance": "high", "body": {"contentType": "html"}}
    _, bad = spec.check_body("microsoft.graph.message", b'{"importance": "urgent"}')
    assert bad is not None and bad.status == 400


def test_graph_checks_a_value_against_the_derived_type_its_odata_type_names():
    from tapeproxy.core.spec import loaded

    spec = loaded.graph()
    connector = b'{"displayName": "x", "authenticationConfiguration": {"@odata.type": "#microsoft.graph.%s", %s}}'
    _, bad = spec.check_body(
        "microsoft.graph.identityApiConnector", connector % (b"basicAuthentication", b'"username": "u"')
    )
    assert bad is None
    _, bad = spec.check_body(
        "microsoft.graph.identityApiConnector", connector % (b"BASICAUTHENTICATION", b'"username": "u"')
    )
    assert bad is None  # the type's name in any casing
    bare = (
        b'{"displayName": "x", "authenticationConfiguration": {"@odata.type": "basicAuthentication", "username": "u"}}'
    )
    assert spec.check_body("microsoft.graph.identityApiConnector", bare)[1] is None  # as the docs write it
    _, bad = spec.check_body("microsoft.graph.identityApiConnector", connector % (b"user", b'"username": "u"'))
    assert bad is not None and "username" in bad.message  # not derived from the property's type: ignored
