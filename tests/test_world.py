"""One world for the whole API (issue 28): what an app creates it reads back, finds in filtered
and ordered lists, changes, links and deletes, for resources no module simulates by hand; through
a running proxy with requests, curl, msgraph-sdk and box-sdk-gen, and in-process for the pure parts."""

import asyncio
import json
import subprocess
from pathlib import Path

import pytest
import requests
from helpers import graph_client, proxied_session

G = "https://graph.microsoft.com/v1.0"
B = "https://api.box.com/2.0"
MEGAN = "5f6b7c0e-1f2a-4b3c-9d4e-000000000001"  # /me in the default world


def session(proxy) -> requests.Session:
    return proxied_session(proxy)


@pytest.fixture
def demo_proxy(start_cli):
    return start_cli("demo")


# -- through a running proxy ------------------------------------------------------------------------
def test_graph_groups_users_members_flow_with_requests(demo_proxy):
    s = session(demo_proxy)
    group = s.post(
        f"{G}/groups",
        json={"displayName": "Q4 Launch", "mailEnabled": False, "mailNickname": "q4", "securityEnabled": True},
    )
    assert group.status_code == 201, group.text
    gid = group.json()["id"]
    assert group.headers["Location"].endswith(f"/groups/{gid}")
    assert s.get(f"{G}/groups/{gid}").json()["displayName"] == "Q4 Launch"
    user = s.post(
        f"{G}/users",
        json={
            "displayName": "Zoe Zhang",
            "userPrincipalName": "ZoeZ@contoso.com",
            "mail": "ZoeZ@contoso.com",
            "accountEnabled": True,
            "mailNickname": "zoe",
        },
    )
    uid = user.json()["id"]
    ref = {"@odata.id": f"{G}/directoryObjects/{uid}"}
    assert s.post(f"{G}/groups/{gid}/members/$ref", json=ref).status_code == 204
    again = s.post(f"{G}/groups/{gid}/members/$ref", json=ref)
    assert again.status_code == 400 and again.json()["error"]["code"] == "Request_BadRequest"
    members = s.get(f"{G}/groups/{gid}/members").json()["value"]
    assert [(m["id"], m["@odata.type"]) for m in members] == [(uid, "#microsoft.graph.user")]
    assert [g["id"] for g in s.get(f"{G}/users/{uid}/memberOf").json()["value"]] == [gid]
    # filtered and ordered lists of what is stored
    found = s.get(
        f"{G}/users",
        params={"$filter": "startswith(displayName,'Zo') and accountEnabled eq true", "$count": "true"},
        headers={"ConsistencyLevel": "eventual"},
    ).json()
    assert found["@odata.count"] == 1 and found["value"][0]["id"] == uid
    ordered = s.get(f"{G}/users", params={"$orderby": "displayName desc", "$select": "displayName"}).json()["value"]
    names = [u["displayName"] for u in ordered]
    assert names == sorted(names, key=str.casefold, reverse=True) and names[0] == "Zoe Zhang"
    assert set(ordered[0]) == {"displayName"}  # the directory answers what was selected, no more (no id)
    assert s.patch(f"{G}/users/{uid}", json={"jobTitle": "CFO"}).status_code == 204
    assert s.get(f"{G}/users/{uid}", params={"$select": "jobTitle"}).json()["jobTitle"] == "CFO"
    assert s.put(f"{G}/users/{uid}/manager/$ref", json={"@odata.id": f"{G}/users/{MEGAN}"}).status_code == 204
    assert s.get(f"{G}/users/{uid}/manager").json()["id"] == MEGAN
    assert uid in [u["id"] for u in s.get(f"{G}/me/directReports").json()["value"]]
    # deleting the group removes it from its members' memberOf; then it is Graph's 404 for good
    assert s.delete(f"{G}/groups/{gid}").status_code == 204
    gone = s.get(f"{G}/groups/{gid}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "Request_ResourceNotFound"
    assert s.get(f"{G}/users/{uid}/memberOf").json()["value"] == []
    bad = s.get(f"{G}/users", params={"$filter": "nosuch eq 1"})
    assert bad.status_code == 400 and "nosuch" in bad.json()["error"]["message"]


def test_graph_mail_events_and_todo_flow_with_requests(demo_proxy):
    s = session(demo_proxy)
    inbox = s.get(f"{G}/me/mailFolders/inbox/messages", params={"$select": "subject"}).json()["value"]
    assert [m["subject"] for m in inbox][0] == "Q4 launch plan" and len(inbox) == 4  # the default world's
    assert set(inbox[0]) == {"@odata.etag", "id", "subject"}  # Outlook keeps the id (and etag), selected or not
    sent = s.post(
        f"{G}/me/sendMail",
        json={"message": {"subject": "Deck", "toRecipients": [{"emailAddress": {"address": "AdeleV@contoso.com"}}]}},
    )
    assert sent.status_code == 202
    assert "Deck" in [m["subject"] for m in s.get(f"{G}/me/mailFolders/sentitems/messages").json()["value"]]
    adele = "5f6b7c0e-1f2a-4b3c-9d4e-000000000002"
    delivered = s.get(f"{G}/users/{adele}/messages", params={"$filter": "subject eq 'Deck'"}).json()["value"]
    assert len(delivered) == 1 and delivered[0]["from"]["emailAddress"]["address"] == "MeganB@contoso.com"
    event = s.post(
        f"{G}/me/events", json={"subject": "Retro", "start": {"dateTime": "2026-12-10T10:00:00", "timeZone": "UTC"}}
    ).json()
    assert s.post(f"{G}/me/events/{event['id']}/accept", json={"sendResponse": False}).status_code == 202
    assert s.get(f"{G}/me/events/{event['id']}").json()["responseStatus"]["response"] == "accepted"
    lists = s.post(f"{G}/me/todo/lists", json={"displayName": "Launch"}).json()
    tasks = f"{G}/me/todo/lists/{lists['id']}/tasks"
    assert s.get(tasks).json()["value"] == []  # a list the app made starts empty
    a = s.post(tasks, json={"title": "Book room"}).json()
    s.post(tasks, json={"title": "Order cake"})
    assert s.patch(f"{tasks}/{a['id']}", json={"status": "completed"}).json()["status"] == "completed"
    done = s.get(tasks, params={"$filter": "status eq 'completed'"}).json()["value"]
    assert [t["title"] for t in done] == ["Book room"]
    paged = s.get(tasks, params={"$top": "1", "$orderby": "title"}).json()
    assert paged["value"][0]["title"] == "Book room" and "$skiptoken=1" in paged["@odata.nextLink"]
    assert s.get(paged["@odata.nextLink"]).json()["value"][0]["title"] == "Order cake"
    assert s.delete(f"{G}/me/todo/lists/{lists['id']}").status_code == 204
    assert s.get(f"{tasks}/{a['id']}").status_code == 404  # what the list held went with it


def test_box_folders_comments_collaborations_shared_links_flow_with_curl(demo_proxy):
    def curl(method, path, body=None):
        args = [
            "curl",
            "-sS",
            "--noproxy",
            "",
            "-x",
            demo_proxy.url,
            "--cacert",
            str(demo_proxy.ca),
            "-X",
            method,
            "-H",
            "Authorization: Bearer demo",
            "-w",
            "\n%{http_code}",
            f"{B}{path}",
        ]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "-d", json.dumps(body)]
        out = subprocess.run(args, capture_output=True, text=True, timeout=30, check=True).stdout
        text, _, code = out.rpartition("\n")
        return int(code), (json.loads(text) if text.strip() else None)

    code, folder = curl("POST", "/folders", {"name": "Q4 Reports", "parent": {"id": "0"}})
    assert code == 201 and folder["name"] == "Q4 Reports"
    fid = folder["id"]
    assert curl("GET", f"/folders/{fid}")[1]["name"] == "Q4 Reports"
    code, clash = curl("POST", "/folders", {"name": "q4 reports", "parent": {"id": "0"}})
    assert code == 409 and clash["code"] == "item_name_in_use"
    _, sub = curl("POST", "/folders", {"name": "Drafts", "parent": {"id": fid}})
    _, link = curl("POST", "/web_links", {"url": "https://example.com/plan", "name": "Plan", "parent": {"id": fid}})
    _, items = curl("GET", f"/folders/{fid}/items?sort=name&direction=DESC")
    assert [e["id"] for e in items["entries"]] == [sub["id"], link["id"]] and items["total_count"] == 2
    assert sub["path_collection"]["entries"][-1]["id"] == fid
    _, comment = curl("POST", "/comments", {"message": "Looks good", "item": {"type": "file", "id": "12345"}})
    assert [c["message"] for c in curl("GET", "/files/12345/comments")[1]["entries"]][-1] == "Looks good"
    _, collab = curl(
        "POST",
        "/collaborations",
        {
            "item": {"type": "folder", "id": fid},
            "role": "editor",
            "accessible_by": {"type": "user", "login": "sarah@example.com"},
        },
    )
    assert [c["id"] for c in curl("GET", f"/folders/{fid}/collaborations")[1]["entries"]] == [collab["id"]]
    code, shared = curl("PUT", f"/folders/{fid}?fields=shared_link", {"shared_link": {"access": "open"}})
    assert code == 200 and shared["shared_link"]["url"].startswith("https://app.box.com/s/")
    assert set(shared) <= {"type", "id", "etag", "shared_link"}
    assert curl("GET", f"/folders/{fid}")[1]["shared_link"]["access"] == "open"
    found = curl("GET", "/search?query=q4%20reports")[1]["entries"]
    assert [e["id"] for e in found] == [fid]
    assert curl("PUT", f"/comments/{comment['id']}", {"message": "Approved"})[1]["message"] == "Approved"
    code, full = curl("DELETE", f"/folders/{fid}")  # Box deletes a folder with items only when told to
    assert code == 400 and full["code"] == "folder_not_empty"
    assert curl("DELETE", f"/folders/{fid}?recursive=true")[0] == 204  # to the trash, with what it holds
    for trashed in (f"/folders/{fid}", f"/folders/{sub['id']}"):
        code, err = curl("GET", trashed)
        assert code == 404 and err["code"] == "trashed", trashed
    assert curl("GET", f"/web_links/{link['id']}")[1]["item_status"] == "trashed"
    assert curl("GET", f"/folders/{fid}/trash")[1]["item_status"] == "trashed"
    assert curl("DELETE", f"/folders/{fid}/trash")[0] == 204  # and out of it, for good
    for gone in (
        f"/folders/{fid}",
        f"/folders/{sub['id']}",
        f"/web_links/{link['id']}",
        f"/collaborations/{collab['id']}",
    ):
        code, err = curl("GET", gone)
        assert code == 404 and err["code"] == "not_found", gone
    code, err = curl("DELETE", f"/comments/{comment['id']}")
    left = [c["id"] for c in curl("GET", "/files/12345/comments")[1]["entries"]]
    assert code == 204 and comment["id"] not in left and left == ["8000", "8001"]  # the default world's stay


def test_box_sdk_gen_groups_memberships_webhooks_and_uploads_into_new_folders(demo_proxy, monkeypatch):
    from box_sdk_gen import BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.box.errors import BoxAPIError
    from box_sdk_gen.managers.folders import CreateFolderParent
    from box_sdk_gen.managers.memberships import CreateGroupMembershipGroup, CreateGroupMembershipUser
    from box_sdk_gen.managers.uploads import UploadFileAttributes, UploadFileAttributesParentField
    from box_sdk_gen.managers.webhooks import CreateWebhookTarget, CreateWebhookTargetTypeField
    from box_sdk_gen.networking.proxy_config import ProxyConfig
    from box_sdk_gen.schemas.webhook import WebhookTriggersField

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(demo_proxy.ca))
    client = BoxClient(BoxDeveloperTokenAuth(token="offline-demo-token")).with_proxy(ProxyConfig(url=demo_proxy.url))
    folder = client.folders.create_folder("Board packs", CreateFolderParent(id="0"))
    assert client.folders.get_folder_by_id(folder.id).name == "Board packs"
    import io

    uploaded = client.uploads.upload_file(
        UploadFileAttributes(name="minutes.txt", parent=UploadFileAttributesParentField(id=folder.id)),
        io.BytesIO(b"minutes of the board\n"),
    ).entries[0]
    assert uploaded.parent.id == folder.id
    items = client.folders.get_folder_items(folder.id)
    assert [(i.type.value if hasattr(i.type, "value") else i.type, i.name) for i in items.entries] == [
        ("file", "minutes.txt")
    ]
    group = client.groups.create_group("Board")
    membership = client.memberships.create_group_membership(
        CreateGroupMembershipUser(id="11446499"), CreateGroupMembershipGroup(id=group.id)
    )
    listed = client.memberships.get_group_memberships(group.id)
    assert [m.id for m in listed.entries] == [membership.id] and listed.entries[0].user.id == "11446499"
    hook = client.webhooks.create_webhook(
        CreateWebhookTarget(id=folder.id, type=CreateWebhookTargetTypeField.FOLDER),
        "https://example.com/hook",
        [WebhookTriggersField.FILE_UPLOADED],
    )
    assert hook.id in [w.id for w in client.webhooks.get_webhooks().entries]
    client.folders.update_folder_by_id(folder.id, name="Board packs 2026")
    assert client.folders.get_folder_by_id(folder.id).name == "Board packs 2026"
    client.groups.delete_group_by_id(group.id)
    with pytest.raises(BoxAPIError) as gone:
        client.groups.get_group_by_id(group.id)
    assert gone.value.response_info.status_code == 404 and gone.value.response_info.code == "not_found"
    with pytest.raises(BoxAPIError):
        client.memberships.get_group_membership_by_id(membership.id)  # went with its group


def test_msgraph_sdk_creates_lists_filters_and_deletes_groups_and_events(demo_proxy):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.groups.groups_request_builder import GroupsRequestBuilder
    from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone
    from msgraph.generated.models.event import Event
    from msgraph.generated.models.group import Group
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.reference_create import ReferenceCreate

    async def flow():
        client, transport = graph_client(demo_proxy)
        try:
            made = await client.groups.post(
                Group(display_name="Design Guild", mail_enabled=False, mail_nickname="design", security_enabled=True)
            )
            await client.groups.by_group_id(made.id).members.ref.post(
                ReferenceCreate(odata_id=f"{G}/directoryObjects/{MEGAN}")
            )
            query = GroupsRequestBuilder.GroupsRequestBuilderGetQueryParameters(
                filter="displayName eq 'Design Guild'", select=["id", "displayName"]
            )
            found = await client.groups.get(RequestConfiguration(query_parameters=query))
            members = await client.groups.by_group_id(made.id).members.get()
            mine = await client.me.member_of.get()
            event = await client.me.events.post(
                Event(subject="Design crit", start=DateTimeTimeZone(date_time="2026-12-11T09:00:00", time_zone="UTC"))
            )
            read = await client.me.events.by_event_id(event.id).get()
            await client.groups.by_group_id(made.id).delete()
            try:
                await client.groups.by_group_id(made.id).get()
                missing = None
            except ODataError as e:
                missing = e
            return made, found, members, mine, read, missing
        finally:
            await transport.aclose()

    made, found, members, mine, read, missing = asyncio.run(flow())
    assert [g.id for g in found.value] == [made.id] and found.value[0].display_name == "Design Guild"
    assert [m.id for m in members.value] == [MEGAN]
    assert made.id in [g.id for g in mine.value]
    assert read.subject == "Design crit"
    assert missing is not None and missing.response_status_code == 404
    assert missing.error.code == "Request_ResourceNotFound"


def test_unknown_ids_are_kept_once_read_and_strict_ids_answer_404(start_cli):
    s = session(start_cli("demo"))
    first = s.get(f"{G}/groups/3c1d0000-0000-4000-8000-000000000042").json()
    assert s.get(f"{G}/groups/3c1d0000-0000-4000-8000-000000000042").json() == first  # the same, kept
    assert first["id"] in [g["id"] for g in s.get(f"{G}/groups", params={"$top": "999"}).json()["value"]]
    box_first = s.get(f"{B}/folders/777").json()
    assert s.get(f"{B}/folders/777").json()["name"] == box_first["name"]
    strict = session(start_cli("demo", "--strict-ids"))
    missing = strict.get(f"{G}/groups/3c1d0000-0000-4000-8000-000000000042")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "Request_ResourceNotFound"
    assert strict.get(f"{B}/folders/777").json()["code"] == "not_found"
    assert strict.get(f"{G}/groups/02bd9fd6-8f93-4758-87c3-1fb73740a315").json()["displayName"] == "Marketing"


def test_replay_with_simulate_lets_cassettes_answer_before_the_store(start_cli, tmp_path):
    from helpers import interaction, write_cassette

    path = write_cassette(tmp_path / "c.yaml", [interaction("GET", f"{G}/groups", body={"value": []})])
    s = session(start_cli("replay", str(path), "--simulate"))
    assert s.get(f"{G}/groups").json() == {"value": []}  # the cassette's
    assert s.post(f"{B}/folders", json={"name": "x", "parent": {"id": "0"}}).status_code == 201  # the store's


def test_state_keeps_the_store_in_sqlite_over_kill_9(start_cli, tmp_path):
    state = tmp_path / "state.json"
    from helpers import acknowledged_until_killed

    def create(s, n, i):
        r = s.post(f"{B}/folders", json={"name": f"c{n}-{i}", "parent": {"id": "0"}}, timeout=5)
        return r.json()["id"] if r.status_code == 201 else None

    proxy = start_cli("demo", "--state", str(state))
    acknowledged = acknowledged_until_killed(proxy, 4, 60, create, session)
    assert len(acknowledged) >= 60 and Path(f"{state}.db").is_file()
    s = session(start_cli("demo", "--state", str(state)))
    listed = {e["id"] for e in s.get(f"{B}/folders/0/items", params={"limit": "1000"}).json()["entries"]}
    assert set(acknowledged) <= listed
    made = s.post(f"{B}/folders", json={"name": "after", "parent": {"id": "0"}}).json()["id"]
    assert made not in acknowledged  # ids never handed out twice, across the restart


def test_export_world_writes_a_world_file_that_starts_the_same_world_and_reset_forgets(start_cli, tmp_path):
    from helpers import run_cli

    proxy = start_cli("demo")
    s = session(proxy)
    folder = s.post(f"{B}/folders", json={"name": "Exported", "parent": {"id": "5000"}}).json()
    group = s.post(f"{G}/groups", json={"displayName": "Exported guild", "mailEnabled": False}).json()
    s.post(f"{G}/groups/{group['id']}/members/$ref", json={"@odata.id": f"{G}/directoryObjects/{MEGAN}"})
    out = tmp_path / "exported.yaml"
    done = run_cli(["ctl", "export-world", str(out), "--proxy", proxy.url])
    assert done.returncode == 0, done.stderr
    assert "Exported guild" in out.read_text() and "content: |" in out.read_text()  # readable: YAML, text inline
    again = session(start_cli("demo", "--world", str(out)))
    assert again.get(f"{B}/folders/{folder['id']}").json()["parent"]["id"] == "5000"
    members = again.get(f"{G}/groups/{group['id']}/members").json()["value"]
    assert [m["id"] for m in members] == [MEGAN]
    assert again.post(f"{B}/folders", json={"name": "next", "parent": {"id": "0"}}).json()["id"] != folder["id"]
    assert run_cli(["ctl", "reset-world", "--proxy", proxy.url]).returncode == 0
    assert s.get(f"{G}/groups/{group['id']}").json()["displayName"] != "Exported guild"  # forgotten: made up anew
    assert "Exported" not in [e["name"] for e in s.get(f"{B}/folders/5000/items").json()["entries"]]


def test_a_state_file_from_before_tasks_moved_to_the_store_keeps_them(start_cli, tmp_path):
    """Print and Box tasks, print jobs, Box files and the drive were kept in the state file's YAML; now the
    database beside it holds them. A state whose database never held them still has them, from its
    YAML, content included."""
    import sqlite3

    from helpers import BOX_TASK_URL, run_cli

    state = tmp_path / "state.yaml"
    proxy = start_cli("demo", "--state", str(state))
    s = session(proxy)
    assert s.put(BOX_TASK_URL, json={"message": "Before the move"}).status_code == 200
    folder = s.post(f"{B}/folders", json={"name": "Kept", "parent": {"id": "0"}}).json()["id"]
    attributes = json.dumps({"name": "kept.bin", "parent": {"id": folder}})
    up = "https://upload.box.com/api/2.0/files/content"
    content = bytes(range(256)) * 4  # not text: the YAML names it, beside the state file
    made = s.post(up, files={"attributes": (None, attributes), "file": ("f", content)})
    file_id = made.json()["entries"][0]["id"]
    assert s.put(f"{G}/me/drive/root:/kept/notes.txt:/content", data=b"drive notes").status_code == 201
    old = tmp_path / "old.yaml"
    assert run_cli(["ctl", "export-world", str(old), "--proxy", proxy.url]).returncode == 0
    proxy.stop()
    state.write_text(old.read_text())  # as the old YAML: with the tasks
    with sqlite3.connect(f"{state}.db") as db:  # as the old database: no tasks in it
        for old_one in ("box:task%", "graph:print/%", "box:files+content", "graph:drive/%"):
            assert db.execute("DELETE FROM records WHERE collection LIKE ?", (old_one,)).rowcount > 0, old_one
    s = session(start_cli("demo", "--state", str(state)))
    assert s.get(BOX_TASK_URL).json()["message"] == "Before the move"
    assert s.get(f"{B}/folders/{folder}").json()["name"] == "Kept"
    assert [e["id"] for e in s.get(f"{B}/folders/{folder}/items").json()["entries"]] == [file_id]
    assert s.get(f"{B}/files/{file_id}/content").content == content
    assert s.get(f"{G}/me/drive/root:/kept/notes.txt:/content").content == b"drive notes"


# -- in-process -------------------------------------------------------------------------------------
def test_filter_parser_covers_graphs_operators():
    from tapeproxy.sim import odata

    rows = [
        {
            "displayName": "Adele",
            "n": 3,
            "emails": ["A@x.com"],
            "tags": [{"k": "v"}],
            "from": {"emailAddress": {"address": "b@y.com"}},
            "d": "2026-01-02T00:00:00Z",
        },
        {"displayName": "Bob", "n": 1, "emails": [], "tags": []},
    ]
    cases = {
        "startswith(displayName,'ad')": ["Adele"],
        "endswith(displayName,'ob')": ["Bob"],
        "contains(displayName,'del')": ["Adele"],
        "emails/any(e:e eq 'a@x.com')": ["Adele"],
        "tags/any(t:t/k eq 'v')": ["Adele"],
        "from/emailAddress/address eq 'b@y.com'": ["Adele"],
        "n gt 2 or n le 1": ["Adele", "Bob"],
        "not (n ge 2)": ["Bob"],
        "n ne 3 and displayName in ('bob','carl')": ["Bob"],
        "d ge 2026-01-01T00:00:00Z": ["Adele"],
    }
    for text, wanted in cases.items():
        tree = odata.parse_filter(text)
        assert [r["displayName"] for r in rows if odata.matches(tree, r)] == wanted, text
    for bad in ("n eq", "n eq 1 and", "startswith(displayName)", "((n eq 1)", "n eq 'x"):
        with pytest.raises(odata.QueryError):
            odata.parse_filter(bad)
    with pytest.raises(odata.QueryError):
        odata.parse_filter("not " * 100 + "n eq 1")
    assert [r["displayName"] for r in odata.order(rows, "n asc")] == ["Bob", "Adele"]
    assert [r["displayName"] for r in odata.search(rows, '"displayName:bo"')] == ["Bob"]
    for many in (
        lambda: odata.order(rows, ",".join(["n"] * 33)),
        lambda: odata.search(rows, '"' + " AND ".join(["b"] * 33) + '"'),
    ):
        with pytest.raises(odata.QueryError):  # each key or clause is a pass over the records: bounded
            many()


def test_store_writes_only_what_a_transaction_changed(tmp_path):
    from tapeproxy.sim.store import Store

    store = Store()
    with store.transaction() as tx:
        for i in range(1000):
            tx.put("box:folders", str(i), {"id": str(i), "name": f"f{i}"})
    assert store.attach(tmp_path / "s.db") is False  # new: what was in memory is written
    with store.transaction() as tx:
        record = tx.get("box:folders", "5")
        record["name"] = "changed"
        assert tx.get("box:folders", "5")["name"] == "f5"  # a copy: nothing reaches in around it
        tx.put("box:folders", "5", record)
        tx.delete("box:folders", "6")
        assert tx.changed == {("box:folders", "5"), ("box:folders", "6")}
    store.detach()
    again = Store()
    assert again.attach(tmp_path / "s.db") is True
    with again.transaction() as tx:
        assert tx.get("box:folders", "5")["name"] == "changed" and not tx.has("box:folders", "6")
        assert [r["id"] for r in tx.scan("box:folders")][:7] == ["0", "1", "2", "3", "4", "5", "7"]


def test_a_column_of_the_store_is_each_records_value_in_order_and_nothing_reaches_in_through_it():
    """What a walk over every record needs of each (the content files name, at every change) without
    copying every record; a value that is not plain is a copy still."""
    from tapeproxy.sim.store import Store

    store = Store()
    with store.transaction() as tx:
        tx.put("graph:drive/items", "a", {"id": "a", "blob": "k1", "tags": ["x"]})
        tx.put("graph:drive/items", "b", {"id": "b", "folder": True})
        tx.put("graph:drive/items", "c", {"id": "c", "blob": "k2"})
        assert tx.column("graph:drive/items", "blob") == ["k1", None, "k2"]
        assert tx.column("graph:nothing", "blob") == []
        tx.column("graph:drive/items", "tags")[0].append("y")
        assert tx.get("graph:drive/items", "a")["tags"] == ["x"]


def test_a_transaction_that_fails_half_way_leaves_the_store_as_it_was(tmp_path):
    from tapeproxy.sim.store import Store

    store = Store()
    with store.transaction() as tx:
        for i in range(3):
            tx.put("box:folders", str(i), {"id": str(i), "name": f"f{i}"})
    store.attach(tmp_path / "s.db")
    with pytest.raises(LookupError), store.transaction() as tx:
        tx.put("box:folders", "1", {"id": "1", "name": "changed"})
        tx.delete("box:folders", "0")
        tx.put("box:comments", "9", {"id": "9"})
        raise LookupError("the API's 404, half-way through")
    with store.transaction() as tx:
        assert [r["name"] for r in tx.scan("box:folders")] == ["f0", "f1", "f2"] and not tx.has("box:comments", "9")
    store.detach()
    again = Store()
    again.attach(tmp_path / "s.db")
    with again.transaction() as tx:
        assert [r["name"] for r in tx.scan("box:folders")] == ["f0", "f1", "f2"]


def test_world_file_seeds_are_checked_against_the_models(tmp_path):
    from tapeproxy.core.errors import InputError
    from tapeproxy.sim.world import World

    good = tmp_path / "w.yaml"
    good.write_text(
        "graph:\n  users:\n  - {id: u1, displayName: Ann, mail: ann@contoso.com}\n"
        "  groups:\n  - {id: g1, displayName: Team, members: [u1]}\n"
        "box:\n  folders:\n  - {id: '900', name: Plans, parent: {type: folder, id: '0'}}\n"
    )
    w = World.load(good)
    doc = w.export()
    assert doc["graph"]["groups"][0]["members"] == ["u1"] and doc["box"]["folders"][0]["name"] == "Plans"
    cases = {
        "graph:\n  users:\n  - {id: u1, displayNam: Ann}\n": ("w.yaml:3", "displayNam"),
        "graph:\n  userz:\n  - {id: u1}\n": ("w.yaml:3", "users"),
        "graph:\n  users:\n  - {id: u1, accountEnabled: maybe}\n": ("w.yaml:3", "accountEnabled"),
        "graph:\n  groups:\n  - {id: g1, members: [nobody]}\n": ("w.yaml:3", "nobody"),
        "box:\n  folders:\n  - {id: '9', nam: x}\n": ("w.yaml:3", "nam"),
        "box:\n  folders:\n  - {id: '9', name: 5}\n": ("w.yaml:3", "name"),
    }
    for text, (where, word) in cases.items():
        bad = tmp_path / "w.yaml"
        bad.write_text(text)
        with pytest.raises(InputError) as e:
            World.load(bad)
        assert where in str(e.value) and word in str(e.value), (text, str(e.value))


def test_each_request_of_a_resource_module_is_answered_by_that_module_alone():
    """The registry's promise: the modules' routes do not overlap, so the order of the list decides
    nothing. Every module is offered each module's requests; exactly one answers."""
    from tapeproxy.sim import registry
    from tapeproxy.sim.http import ApiError, SimRequest
    from tapeproxy.sim.world import DEFAULT_ME, World, load_or_default

    world: World = load_or_default(None, None, Path(registry.__file__).parent / "default-world.yaml")
    auth = [("Authorization", "Bearer t")]
    requests_by_module = {
        "Graph print task definition(s)": ("GET", "graph.microsoft.com", "/v1.0/print/taskDefinitions"),
        "Graph print job(s)": ("GET", "graph.microsoft.com", "/v1.0/print/printers/p1/jobs/31216"),
        "OneDrive file(s)": ("GET", "graph.microsoft.com", "/v1.0/me/drive/root/children"),
        "Box task(s)": ("GET", "api.box.com", "/2.0/tasks/11446498"),
        "Box file(s)": ("GET", "api.box.com", "/2.0/files/12345"),
        "Box metadata instance(s)": ("GET", "api.box.com", "/2.0/files/12345/metadata"),
        "Box metadata template(s)": ("GET", "api.box.com", "/2.0/metadata_templates/enterprise"),
    }
    assert set(requests_by_module) == {m.name for m in registry.MODULES}  # a module added gets a line here
    for owner, (method, host, path) in requests_by_module.items():
        req = SimRequest.make(method, host, path, auth)
        answered = []
        for module in registry.MODULES:
            if not module.on_host(host):
                continue
            try:
                reply = module.handle(world, req)
            except ApiError:
                reply = True  # an error in the API's envelope is an answer too
            if reply is not None:
                answered.append(module.name)
        assert answered == [owner], (path, answered)
    # what no module answers is the store's
    generic = SimRequest.make("GET", "graph.microsoft.com", f"/v1.0/users/{DEFAULT_ME}", auth)
    assert not [m.name for m in registry.MODULES if m.on_host(generic.host) and m.handle(world, generic)]
    assert registry.world_keys("graph") == {"taskDefinitions", "printJobs", "drive", "appRegistrations"}


def test_no_route_of_a_resource_module_is_another_modules_too():
    """Every route every module declares (core/paths.Routes), made a path: no other module's routes
    take it, so which module answers a request never depends on the registry's order."""
    import re

    from tapeproxy.sim import registry

    def sample(template: str) -> str:  # every parameter an id that any module's checks accept
        return re.sub(r"\{\w+\}", "123", re.sub(r"/\{\w+\*\*\}", "/root/children", template))

    for module in registry.MODULES:
        assert module.routes, module.name
        for routes in module.routes:
            for template in routes.templates():
                path = sample(template)
                assert routes.match(path) is not None, (module.name, template)
                for other in registry.MODULES:
                    if other is not module:
                        taken = [t for r in other.routes if (t := r.match(path))]
                        assert not taken, (module.name, template, other.name, taken)


def test_deleting_a_folder_or_a_file_deletes_what_it_holds_across_the_modules_and_the_store(demo_proxy):
    """A folder of the store holding an uploaded file (sim/box_files.py) with a comment and a task on
    it: the folder's delete takes the file, its comment and its task; a file's delete, its own."""
    s = session(demo_proxy)
    folder = s.post(f"{B}/folders", json={"name": "Doomed", "parent": {"id": "0"}}).json()
    up = "https://upload.box.com/api/2.0/files/content"
    attributes = json.dumps({"name": "inside.txt", "parent": {"id": folder["id"]}})
    inside = s.post(up, files={"attributes": (None, attributes), "file": ("f", b"x")}).json()["entries"][0]
    comment = s.post(f"{B}/comments", json={"item": {"type": "file", "id": inside["id"]}, "message": "hi"}).json()
    task = s.post(f"{B}/tasks", json={"item": {"type": "file", "id": inside["id"]}, "message": "review"}).json()
    assert [c["id"] for c in s.get(f"{B}/files/{inside['id']}/comments").json()["entries"]] == [comment["id"]]
    assert s.delete(f"{B}/folders/{folder['id']}", params={"recursive": "True"}).status_code == 204  # box-sdk-gen's
    assert s.delete(f"{B}/folders/{folder['id']}/trash").status_code == 204  # out of the trash, for good
    assert s.get(f"{B}/files/{inside['id']}").status_code == 404
    assert s.get(f"{B}/comments/{comment['id']}").status_code == 404
    assert s.get(f"{B}/tasks/{task['id']}").status_code == 404
    alone = s.post(
        up, files={"attributes": (None, '{"name": "alone.txt", "parent": {"id": "0"}}'), "file": ("f", b"y")}
    )
    alone_id = alone.json()["entries"][0]["id"]
    said = s.post(f"{B}/comments", json={"item": {"type": "file", "id": alone_id}, "message": "bye"}).json()
    assert s.delete(f"{B}/files/{alone_id}").status_code == 204
    assert s.get(f"{B}/files/{alone_id}").json()["item_status"] == "trashed"  # Box keeps it, in the trash
    assert s.delete(f"{B}/files/{alone_id}/trash").status_code == 204
    assert s.get(f"{B}/comments/{said['id']}").status_code == 404


def test_a_file_copied_has_the_same_content_in_its_new_folder_and_a_name_in_use_is_refused(demo_proxy):
    s = session(demo_proxy)
    up = "https://upload.box.com/api/2.0/files/content"
    made = s.post(up, files={"attributes": (None, '{"name": "plan.txt", "parent": {"id": "0"}}'), "file": ("f", b"v1")})
    source = made.json()["entries"][0]
    copied = s.post(f"{B}/files/{source['id']}/copy", json={"parent": {"id": "5000"}, "name": "plan copy.txt"})
    assert copied.status_code == 201, copied.text
    copy = copied.json()
    assert copy["id"] != source["id"] and copy["parent"]["id"] == "5000" and copy["sha1"] == source["sha1"]
    assert s.get(f"{B}/files/{copy['id']}/content").content == b"v1"  # followed to the download host
    assert copy["id"] in [e["id"] for e in s.get(f"{B}/folders/5000/items").json()["entries"]]
    again = s.post(f"{B}/files/{source['id']}/copy", json={"parent": {"id": "5000"}, "name": "plan copy.txt"})
    assert again.status_code == 409 and again.json()["code"] == "item_name_in_use"
