"""Guidance (issue 31): each rule fires on its case and not on the corrected one; in-process, then
through a running demo (journal lines, the summary, the report, rules switched off)."""

import json

import pytest
from helpers import proxied_session

from tapeproxy.core.guidance import RULES, Advisor, Exchange, operation

GRAPH, BOX = "graph.microsoft.com", "api.box.com"
CRID = {"client-request-id": "0d0c6c5e-8f43-4c1e-9d1a-2f6c1d1b7c11"}


def ex(method="GET", host=GRAPH, target="/v1.0/me", headers=None, status=200, body=None, request=None, **kw):
    path = target.partition("?")[0]
    return Exchange(
        method=method,
        host=host,
        path=path,
        target=target,
        headers={**CRID, **(headers or {})} if host == GRAPH else dict(headers or {}),
        status=status,
        request_body=json.dumps(request).encode() if request is not None else b"",
        response_body=json.dumps(body).encode() if body is not None else b"",
        response_type="application/json" if body is not None else "",
        **kw,
    )


def rules(advisor, *exchanges):
    return [f.rule for x in exchanges for f in advisor.check(x)]


def typed(path):
    return ("microsoft.graph.user", 120) if "/users" in path or path.endswith("/me") else None


def test_graph_select_client_request_id_and_beta():
    a = Advisor(entity_type=typed)
    assert rules(a, ex(target="/v1.0/users", body={"value": []})) == ["graph-select"]
    assert rules(a, ex(target="/v1.0/users?$select=id", body={"value": []})) == []
    assert rules(a, ex(target="/v1.0/print/printers", body={"value": []})) == []  # a small type
    assert rules(a, ex(target="/v1.0/me/photo", headers={}, status=404)) == []
    no_id = Exchange("GET", GRAPH, "/v1.0/me/photo", "/v1.0/me/photo", {}, 404)
    assert rules(a, no_id) == ["graph-client-request-id"]
    assert rules(a, ex(method="POST", target="/beta/me/sendMail", status=202)) == ["graph-beta"]
    assert rules(a, ex(method="POST", target="/v1.0/me/sendMail", status=202)) == []


def test_graph_paging_is_reported_when_the_next_page_was_never_read():
    a = Advisor()
    page = {"value": [], "@odata.nextLink": "https://graph.microsoft.com/v1.0/groups?$skiptoken=X%3D1"}
    a.check(ex(target="/v1.0/groups?$top=1", body=page))
    assert [f.rule for f in a.unfollowed()] == ["graph-paging"]
    a.check(ex(target="/v1.0/groups?$skiptoken=X%3D1", body={"value": []}))
    assert a.unfollowed() == []


def test_graph_repeated_reads_within_seconds_and_not_retries_or_later_ones():
    a = Advisor()
    assert rules(a, ex(target="/v1.0/groups", body={"value": []}, when=100.0)) == []
    assert rules(a, ex(target="/v1.0/groups", body={"value": []}, when=101.0)) == ["graph-repeated"]
    assert rules(a, ex(target="/v1.0/groups", body={"value": []}, when=120.0)) == []  # later: fine
    b = Advisor()
    b.check(ex(target="/v1.0/groups", status=429, when=100.0))
    assert rules(b, ex(target="/v1.0/groups", body={"value": []}, when=101.0)) == []  # a retry after a 429


def test_graph_batch_size_consistency_level_and_retry_after():
    a = Advisor()
    steps = [{"id": str(i), "method": "GET", "url": "/me"} for i in range(21)]
    assert rules(a, ex(method="POST", target="/v1.0/$batch", request={"requests": steps}, status=400)) == [
        "graph-batch-size"
    ]
    assert rules(a, ex(method="POST", target="/v1.0/$batch", request={"requests": steps[:20]})) == []
    advanced = "/v1.0/users?$filter=endsWith(mail,'contoso.com')&$count=true"
    assert rules(a, ex(target=advanced, status=400)) == ["graph-consistency-level"]
    assert rules(a, ex(target=advanced, headers={"consistencylevel": "eventual"}, status=400)) == []
    assert rules(a, ex(target="/v1.0/users?$filter=startsWith(displayName,'A')", status=400)) == []
    assert rules(a, ex(target="/v1.0/me", status=429, early_retry=True)) == ["graph-retry-after"]
    assert rules(a, ex(target="/v1.0/me", status=429)) == []


def test_box_fields_as_user_and_event_polling():
    a = Advisor()
    listing = {"entries": [{"id": "1", "type": "file"}], "total_count": 1}
    assert rules(a, ex(host=BOX, target="/2.0/folders/0/items", body=listing)) == ["box-fields"]
    assert rules(a, ex(host=BOX, target="/2.0/folders/0/items?fields=name,size", body=listing)) == []
    assert rules(a, ex(host=BOX, target="/2.0/folders/0", headers={"as-user": "7"}, box_user_token=True)) == [
        "box-as-user"
    ]
    assert rules(a, ex(host=BOX, target="/2.0/folders/0", headers={"as-user": "7"})) == []
    first = ex(host=BOX, target="/2.0/events", headers={"authorization": "Bearer t"}, body={"entries": []})
    assert rules(a, first) == []  # the first read starts the stream
    assert rules(a, first) == ["box-events-stream-position"]
    polled = ex(host=BOX, target="/2.0/events?stream_position=123", headers={"authorization": "Bearer t"}, body={})
    assert rules(a, polled) == []


def test_rules_switched_off_do_not_fire():
    a = Advisor(off=frozenset({"graph-beta"}))
    assert rules(a, ex(target="/beta/me", status=404)) == []
    assert len(RULES) == 11 and all(r.link.startswith("https://") for r in RULES.values())


# --- through a running demo ---------------------------------------------------------------------


def test_guidance_lines_in_the_journal_the_summary_and_the_report(start_cli, tmp_path):
    report = tmp_path / "report.json"
    proxy = start_cli("demo", "--report", str(report), "--guidance-off", "graph-client-request-id")
    s = proxied_session(proxy, "demo")
    assert s.get("https://graph.microsoft.com/v1.0/users").ok  # no $select on a type of 100+ properties
    assert s.get("https://graph.microsoft.com/v1.0/users?$select=id,displayName").ok
    assert s.get("https://api.box.com/2.0/folders/0/items").ok
    assert s.get("https://graph.microsoft.com/v1.0/users?$top=1&$select=id").ok  # paged, never followed
    proxy.stop()
    out = proxy.output
    assert "GUIDANCE graph-select: GET /v1.0/users without $select: microsoft.graph.user has" in out
    assert out.count("GUIDANCE graph-select: GET") == 1 and "GUIDANCE graph-client-request-id" not in out
    assert "GUIDANCE graph-select: 1 finding(s)" in out  # the exit summary
    assert "GUIDANCE box-fields: GET /2.0/folders/0/items listed" in out
    summary = json.loads(report.read_text())["guidance"]
    assert {r: g["findings"] for r, g in summary.items()} == {"graph-select": 1, "box-fields": 1, "graph-paging": 1}
    assert summary["graph-paging"]["link"] == "https://learn.microsoft.com/graph/paging"


def test_an_unknown_rule_is_refused_by_name(start_cli):
    with pytest.raises(RuntimeError) as refused:
        start_cli("demo", "--guidance-off", "graph-nonsense")
    assert "no guidance rule graph-nonsense" in str(refused.value) and "graph-select" in str(refused.value)


def test_operation_sets_keys_aside():
    assert operation("/v1.0/users/48d31887-5fad-4d73-a9f5-3c356e68a038/messages") == "/v1.0/users/{id}/messages"
    assert operation("/2.0/folders/123456/items") == "/2.0/folders/{id}/items"
    assert operation("/v1.0/me/drive/items/01BYE5RZ6QN3ZWBTUFOFD3GSPGOHDJD36K") == "/v1.0/me/drive/items/{id}"
    assert operation("/v1.0/users/delta") == "/v1.0/users/delta"  # a name, not a key


def test_a_rule_gives_one_line_per_operation_and_counts_the_rest(start_cli, tmp_path):
    report = tmp_path / "report.json"
    proxy = start_cli("demo", "--report", str(report), "--guidance-off", "graph-repeated")
    s = proxied_session(proxy, "demo")
    for _ in range(3):
        assert s.get("https://graph.microsoft.com/beta/me").status_code in (200, 404)
    for user in ("48d31887-5fad-4d73-a9f5-3c356e68a038", "87d349ed-44d7-43e1-9a83-5f2406dee5bd"):
        assert s.get(f"https://graph.microsoft.com/v1.0/users/{user}?$select=id").status_code in (200, 404)
    proxy.stop()
    assert proxy.output.count("GUIDANCE graph-beta: GET /beta/me") == 1
    # two users, one operation: one line, both counted
    assert proxy.output.count("GUIDANCE graph-client-request-id: GET /v1.0/users/") == 1
    found = json.loads(report.read_text())["guidance"]
    assert found["graph-beta"]["findings"] == 3 and found["graph-client-request-id"]["findings"] == 5
