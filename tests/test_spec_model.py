"""The API models derived from ../shared/specs (issue 19): shipped, current, and read as the APIs
read requests. Through a proxy: test_spec_answers.py."""

from pathlib import Path

import pytest

from tapeproxy.core.spec import derive
from tapeproxy.core.spec.box import BoxSpec
from tapeproxy.core.spec.graph import GraphSpec

SPECS = Path(__file__).resolve().parents[2] / "shared" / "specs"


@pytest.mark.skipif(not SPECS.is_dir(), reason="needs ../shared/specs beside the repo")
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
