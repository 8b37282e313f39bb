"""API-true answers (issue 29): Graph's OData as the service reads it, derived types answered as
themselves, a believable default tenant, and the services' own semantics, through a running demo
with real clients."""

import requests

G = "https://graph.microsoft.com/v1.0"
B = "https://api.box.com/2.0"
AUTH = {"Authorization": "Bearer demo"}


def session(proxy) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy.url, "http": proxy.url}
    s.verify = proxy.ca
    s.headers.update(AUTH)
    return s


# -- 1. OData as Graph speaks it ---------------------------------------------------------------------
def test_segments_query_options_and_enum_values_are_read_in_any_casing(demo):
    """Graph's docs: "resource names, query parameters, and action parameters and values are case
    insensitive"; Microsoft's own examples write `checklistitems`, `"contentType": "HTML"`."""
    s = session(demo)
    todo = s.post(f"{G}/me/todo/lists", json={"displayName": "Errands"}).json()
    task = s.post(f"{G}/me/TODO/lists/{todo['id']}/tasks", json={"title": "Buy milk", "importance": "High"})
    assert task.status_code == 201, task.text
    assert task.json()["importance"] == "high"  # kept, and answered, in the model's casing
    tasks = f"{G}/me/todo/lists/{todo['id']}/tasks/{task.json()['id']}"
    item = s.post(f"{tasks}/checklistitems", json={"displayName": "2%"})
    assert item.status_code == 201, item.text
    listed = s.get(f"{tasks}/checklistItems").json()["value"]
    assert [i["displayName"] for i in listed] == ["2%"]
    message = s.post(
        f"{G}/me/messages",
        json={"subject": "Lunch?", "importance": "Low", "body": {"contentType": "HTML", "content": "<p>Noon</p>"}},
    )
    assert message.status_code == 201, message.text
    assert message.json()["importance"] == "low" and message.json()["body"]["contentType"] == "html"
    found = s.get(f"{G}/Me/Messages", params={"$FILTER": "importance eq 'LOW'", "$Select": "subject"})
    assert found.status_code == 200, found.text
    assert [m["subject"] for m in found.json()["value"]] == ["Lunch?"]
    assert {k for k in found.json()["value"][0] if not k.startswith("@")} == {"id", "subject"}
    assert len(s.get(f"{G}/users", params={"$TOP": "2"}).json()["value"]) == 2
    bad = s.post(f"{G}/me/messages", json={"importance": "urgent"})
    assert bad.status_code == 400 and "urgent" in bad.json()["error"]["message"]
