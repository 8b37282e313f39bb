"""API-true answers (issue 29): Graph's OData as the service reads it, derived types answered as
themselves, a believable default tenant, and the services' own semantics, through a running demo
with real clients."""

import re

import pytest
import requests
from helpers import proxied_session

G = "https://graph.microsoft.com/v1.0"
B = "https://api.box.com/2.0"


def session(proxy) -> requests.Session:
    return proxied_session(proxy)


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


# -- 4. Box semantics apps depend on -----------------------------------------------------------------
def test_box_sdk_gen_downscopes_a_token_that_then_does_only_what_its_scopes_allow_and_revokes(demo, monkeypatch):
    """box-sdk-gen's own calls, as its integration suite makes them (test/auth.py): token exchange
    for a downscoped token, then `/oauth2/revoke` with the app's id and secret."""
    from box_sdk_gen import BoxCCGAuth, BoxClient, BoxDeveloperTokenAuth, CCGConfig
    from box_sdk_gen.box.errors import BoxAPIError
    from box_sdk_gen.networking.network import NetworkSession
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", demo.ca)
    network = NetworkSession().with_proxy(ProxyConfig(url=demo.url))
    auth = BoxCCGAuth(CCGConfig(client_id="app-id", client_secret="app-secret", enterprise_id="818181"))
    parent = BoxClient(auth, network_session=network)
    folder = parent.folders.create_folder("Downscoped", parent=_box_parent("0"))
    resource = f"https://api.box.com/2.0/folders/{folder.id}"
    token = auth.downscope_token(["item_rename", "item_preview"], resource=resource, network_session=network)
    assert token.access_token and _text(token.issued_token_type) == "urn:ietf:params:oauth:token-type:access_token"
    assert [(_text(r.scope), r.object.id) for r in token.restricted_to] == [
        ("item_rename", folder.id),
        ("item_preview", folder.id),
    ]
    narrow = BoxClient(BoxDeveloperTokenAuth(token=token.access_token), network_session=network)
    assert narrow.folders.update_folder_by_id(folder.id, name="Renamed").name == "Renamed"
    with pytest.raises(BoxAPIError) as refused:
        narrow.folders.delete_folder_by_id(folder.id)
    assert refused.value.response_info.status_code == 403
    assert refused.value.response_info.code == "insufficient_scope"
    with pytest.raises(BoxAPIError) as elsewhere:  # only the resource the token was made for
        narrow.folders.get_folder_by_id("0")
    assert elsewhere.value.response_info.status_code == 403
    readonly = auth.downscope_token(["root_readonly"], network_session=network)
    reader = BoxClient(BoxDeveloperTokenAuth(token=readonly.access_token), network_session=network)
    assert reader.folders.get_folder_by_id(folder.id).name == "Renamed"
    with pytest.raises(BoxAPIError):
        reader.folders.create_folder("Not allowed", parent=_box_parent("0"))

    before = auth.retrieve_token(network_session=network).access_token
    auth.revoke_token(network_session=network)
    after = auth.retrieve_token(network_session=network).access_token
    assert after != before
    s = session(demo)
    gone = s.get(f"{B}/users/me", headers={"Authorization": f"Bearer {before}"})
    assert gone.status_code == 401  # a revoked token is refused from then on
    assert s.get(f"{B}/users/me", headers={"Authorization": f"Bearer {after}"}).status_code == 200
    bad = s.post("https://api.box.com/oauth2/revoke", data={"token": after})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"


def _box_parent(folder_id: str):
    from box_sdk_gen.managers.folders import CreateFolderParent

    return CreateFolderParent(id=folder_id)


def _text(value) -> str:
    """An SDK model's enum member or plain string, as the string on the wire."""
    return getattr(value, "value", value)


def test_msgraph_sdk_sends_derived_types_in_bodies_and_reads_directory_objects_as_what_they_are(demo):
    """msgraph-sdk writes `@odata.type` for a derived value (an API connector's basic authentication)
    and picks its model class by `@odata.type` in answers: a directory object read or listed is the
    user or group it is."""
    import asyncio

    from helpers import graph_client
    from msgraph.generated.models.basic_authentication import BasicAuthentication
    from msgraph.generated.models.group import Group
    from msgraph.generated.models.identity_api_connector import IdentityApiConnector
    from msgraph.generated.models.user import User

    async def flow():
        client, transport = graph_client(demo)
        try:
            made = await client.identity.api_connectors.post(
                IdentityApiConnector(
                    display_name="Validate sign-up",
                    target_url="https://api.contoso.com/validate",
                    authentication_configuration=BasicAuthentication(username="svc", password="s3cret"),
                )
            )
            read = await client.identity.api_connectors.by_identity_api_connector_id(made.id).get()
            group = await client.groups.post(
                Group(
                    display_name="Finance EMEA", mail_enabled=False, mail_nickname="finance-emea", security_enabled=True
                )
            )
            me = await client.me.get()
            as_object = await client.directory_objects.by_directory_object_id(me.id).get()
            group_object = await client.directory_objects.by_directory_object_id(group.id).get()
            return read, me, as_object, group_object
        finally:
            await transport.aclose()

    read, me, as_object, group_object = asyncio.run(flow())
    bare = {"displayName": "Essay", "grading": {"@odata.type": "educationAssignmentPointsGradeType", "maxPoints": 50}}
    made = session(demo).post(f"{G}/education/classes/c1/assignments", json=bare)  # as Microsoft's example writes it
    assert made.status_code == 201 and made.json()["grading"]["maxPoints"] == 50, made.text
    assert isinstance(read.authentication_configuration, BasicAuthentication)
    assert read.authentication_configuration.username == "svc"
    assert isinstance(as_object, User) and as_object.display_name == me.display_name
    assert isinstance(group_object, Group) and group_object.display_name == "Finance EMEA"


# -- 5. Graph semantics apps depend on --------------------------------------------------------------
def test_graph_answers_creates_updates_and_mail_moves_with_the_status_its_reference_pages_give(demo):
    """POST /teams is 202 with where the team will be; PATCH of a team or a directory policy is 204;
    a message moved or copied is 201 and in its new folder; a user's calendar has its id."""
    import asyncio

    from helpers import graph_client
    from msgraph.generated.models.message import Message
    from msgraph.generated.models.team import Team
    from msgraph.generated.users.item.messages.item.copy.copy_post_request_body import CopyPostRequestBody
    from msgraph.generated.users.item.messages.item.move.move_post_request_body import MovePostRequestBody

    s = session(demo)
    team = s.post(
        f"{G}/teams",
        json={"template@odata.bind": f"{G}/teamsTemplates('standard')", "displayName": "Launch", "description": "Q1"},
    )
    assert team.status_code == 202 and team.content == b"", team.text
    assert team.headers["Location"].startswith("/teams('") and "/operations('" in team.headers["Location"]
    made = s.get("https://graph.microsoft.com/v1.0" + team.headers["Content-Location"])
    assert made.status_code == 200 and made.json()["displayName"] == "Launch"
    policy = s.patch(f"{G}/identity/conditionalAccess/policies/p1", json={"displayName": "Block legacy auth"})
    assert policy.status_code == 204, policy.text
    assert s.get(f"{G}/identity/conditionalAccess/policies/p1").json()["displayName"] == "Block legacy auth"
    calendar = s.get(f"{G}/me/calendar").json()
    assert calendar.get("id") and s.get(f"{G}/me/calendar").json()["id"] == calendar["id"]

    async def flow():
        client, transport = graph_client(demo)
        try:
            draft = await client.me.messages.post(Message(subject="Quarterly numbers"))
            moved = await client.me.messages.by_message_id(draft.id).move.post(
                MovePostRequestBody(destination_id="archive")
            )
            copied = await client.me.messages.by_message_id(moved.id).copy.post(
                CopyPostRequestBody(destination_id="inbox")
            )
            await client.teams.by_team_id(made.json()["id"]).patch(Team(description="Q2"))
            archive = await client.me.mail_folders.by_mail_folder_id("archive").messages.get()
            inbox = await client.me.mail_folders.by_mail_folder_id("inbox").messages.get()
            return draft, moved, copied, archive, inbox
        finally:
            await transport.aclose()

    draft, moved, copied, archive, inbox = asyncio.run(flow())
    assert moved.subject == "Quarterly numbers" and moved.parent_folder_id == "archive"
    assert copied.id not in (draft.id, moved.id) and copied.parent_folder_id == "inbox"
    assert moved.id in [m.id for m in archive.value] and copied.id in [m.id for m in inbox.value]
    assert s.get(f"{G}/teams/{made.json()['id']}").json()["description"] == "Q2"


# -- 3. A believable tenant and enterprise ----------------------------------------------------------
PLACEHOLDER = re.compile(r"^\S+[ -][0-9a-f]{4,8}$")  # a property's name plus a hex tag


def _placeholders(value, where=""):
    """Every string in an answer that is a placeholder or names tapeproxy."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _placeholders(v, f"{where}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _placeholders(v, f"{where}[{i}]")]
    if isinstance(value, str) and (PLACEHOLDER.match(value) or "tapeproxy" in value.lower()):
        return [f"{where}: {value!r}"]
    return []


def test_the_default_world_is_a_believable_tenant_and_enterprise_that_names_no_tool(start_cli):
    import asyncio

    demo = start_cli("demo")  # its own: what the other tests create is not the default world

    from helpers import graph_client
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    async def flow():
        client, transport = graph_client(demo)
        try:
            query = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(top=999)
            users = await client.users.get(RequestConfiguration(query_parameters=query))
            me = await client.me.get()
            reports = await client.users.by_user_id(me.id).manager.get()
            groups = await client.groups.get()
            members = {g.display_name: await client.groups.by_group_id(g.id).members.get() for g in groups.value}
            inbox = await client.me.mail_folders.by_mail_folder_id("inbox").messages.get()
            events = await client.me.events.get()
            lists = await client.me.todo.lists.get()
            return users, me, reports, groups, members, inbox, events, lists
        finally:
            await transport.aclose()

    users, me, manager, groups, members, inbox, events, lists = asyncio.run(flow())
    people = {u.user_principal_name.lower(): u for u in users.value}
    assert len(people) >= 15 and all(upn.endswith("@contoso.com") for upn in people)
    assert all(u.department and u.job_title and u.office_location and u.usage_location for u in users.value)
    assert me.account_enabled is True and me.deleted_date_time is None and manager.display_name
    assert len([u for u in users.value if u.department == me.department]) >= 2
    kinds = {("Unified" in (g.group_types or [])) or g.security_enabled is False for g in groups.value}
    assert kinds == {True, False}  # Microsoft 365 groups and security groups
    assert all(m.value for m in members.values())
    assert len(inbox.value) >= 3
    senders = {m.from_.email_address.address.lower() for m in inbox.value}
    assert senders <= set(people), senders - set(people)  # mail between people who exist
    assert events.value and all(e.attendees for e in events.value)
    assert {a.email_address.address.lower() for e in events.value for a in e.attendees} <= set(people)
    assert lists.value and any(lst.display_name != "Tasks" for lst in lists.value)

    s = session(demo)
    box_me = s.get(f"{B}/users/me").json()
    assert box_me["login"].lower() == me.user_principal_name.lower()  # the same person, in Box
    made_up = s.get(f"{B}/folders/77665544").json()  # one nobody seeded
    assert made_up["trashed_at"] is None and made_up["shared_link"] is None and made_up.get("classification") is None
    assert made_up["created_by"]["login"].lower() in people
    box_people = s.get(f"{B}/users", params={"limit": "100"}).json()["entries"]
    assert {u["login"].lower() for u in box_people} <= set(people) and len(box_people) >= 5
    root = s.get(f"{B}/folders/0/items", params={"limit": "100"}).json()["entries"]
    assert {"folder"} <= {e["type"] for e in root} and "Contract.pdf" in _box_names(s, "0")
    collaborations = s.get(f"{B}/folders/5000/collaborations").json()["entries"]
    assert collaborations and all(c["accessible_by"]["login"].lower() in people for c in collaborations)
    templates = s.get(f"{B}/metadata_templates/enterprise").json()["entries"]
    assert "Contract" in [t["displayName"] for t in templates]
    comments = s.get(f"{B}/files/12345/comments").json()["entries"]
    assert comments and all(c["created_by"]["login"].lower() in people for c in comments)
    shared = s.get(f"{B}/files/12345", params={"fields": "shared_link,trashed_at,name"}).json()
    assert shared["shared_link"]["url"].startswith("https://") and shared["trashed_at"] is None

    seen = [
        me.additional_data,
        *(s.get(f"{G}{p}").json() for p in ("/me", "/users", "/groups", "/me/messages", "/me/events")),
        *(s.get(f"{G}{p}").json() for p in ("/me/drive", "/me/drive/root/children", "/organization")),
        s.post(
            f"{G}/groups",
            json={
                "displayName": "Field Sales",
                "mailNickname": "fieldsales",
                "mailEnabled": False,
                "securityEnabled": True,
            },
        ).json(),
        box_me,
        *(s.get(f"{B}{p}").json() for p in ("/folders/0/items", "/files/12345", "/folders/5000", "/users")),
        s.get(f"{B}/files/99887766").json(),  # one nobody seeded: made up
        made_up,
    ]
    problems = [p for answer in seen for p in _placeholders(answer)]
    assert not problems, problems[:10]


def _box_names(s, folder: str) -> list[str]:
    entries = s.get(f"{B}/folders/{folder}/items", params={"limit": "1000"}).json()["entries"]
    names = [e["name"] for e in entries]
    for e in entries:
        if e["type"] == "folder":
            names += _box_names(s, e["id"])
    return names


def test_box_sdk_gen_metadata_instances_follow_their_path_and_take_json_patch(demo, monkeypatch):
    """Box's metadata instances as box-sdk-gen's suite uses them (test/file_metadata.py): the
    template is the path's, an update is a JSON Patch (add, replace, remove, test, move, copy)."""
    from box_sdk_gen.box.errors import BoxAPIError
    from box_sdk_gen.managers.file_metadata import (
        CreateFileMetadataByIdScope,
        DeleteFileMetadataByIdScope,
        GetFileMetadataByIdScope,
        UpdateFileMetadataByIdRequestBody,
        UpdateFileMetadataByIdRequestBodyOpField,
        UpdateFileMetadataByIdScope,
    )
    from box_sdk_gen.managers.folder_metadata import CreateFolderMetadataByIdScope

    client = _box(demo, monkeypatch)
    assert client.file_metadata.get_file_metadata("12346").entries == []
    made = client.file_metadata.create_file_metadata_by_id(
        "12346",
        CreateFileMetadataByIdScope.ENTERPRISE,
        "contract",
        {"client": "Fabrikam", "value": 1200, "tags": ["a"]},
    )
    assert (made.template, made.scope, made.version, made.parent) == ("contract", "enterprise_818181", 0, "file_12346")
    with pytest.raises(BoxAPIError) as twice:
        client.file_metadata.create_file_metadata_by_id("12346", CreateFileMetadataByIdScope.ENTERPRISE, "contract", {})
    assert twice.value.response_info.status_code == 409
    op = UpdateFileMetadataByIdRequestBodyOpField
    updated = client.file_metadata.update_file_metadata_by_id(
        "12346",
        UpdateFileMetadataByIdScope.ENTERPRISE,
        "contract",
        [
            UpdateFileMetadataByIdRequestBody(op=op.TEST, path="/client", value="Fabrikam"),
            UpdateFileMetadataByIdRequestBody(op=op.REPLACE, path="/value", value=1500),
            UpdateFileMetadataByIdRequestBody(op=op.ADD, path="/tags/-", value="b"),
            UpdateFileMetadataByIdRequestBody(op=op.COPY, from_="/client", path="/billTo"),
            UpdateFileMetadataByIdRequestBody(op=op.MOVE, from_="/billTo", path="/shipTo"),
            UpdateFileMetadataByIdRequestBody(op=op.REMOVE, path="/client"),
        ],
    )
    assert updated.version == 1 and updated.template == "contract"
    assert {k: updated.extra_data[k] for k in ("value", "tags", "shipTo")} == {
        "value": 1500,
        "tags": ["a", "b"],
        "shipTo": "Fabrikam",
    }
    assert "client" not in updated.extra_data
    with pytest.raises(BoxAPIError) as failed_test:  # a failed test changes nothing
        client.file_metadata.update_file_metadata_by_id(
            "12346",
            UpdateFileMetadataByIdScope.ENTERPRISE,
            "contract",
            [
                UpdateFileMetadataByIdRequestBody(op=op.REPLACE, path="/value", value=1),
                UpdateFileMetadataByIdRequestBody(op=op.TEST, path="/value", value=2),
            ],
        )
    assert failed_test.value.response_info.status_code == 400
    read = client.file_metadata.get_file_metadata_by_id("12346", GetFileMetadataByIdScope.ENTERPRISE, "contract")
    assert read.extra_data["value"] == 1500 and read.version == 1
    on_folder = client.folder_metadata.create_folder_metadata_by_id(
        "5001", CreateFolderMetadataByIdScope.GLOBAL, "properties", {"team": "Marketing"}
    )
    assert (on_folder.template, on_folder.scope, on_folder.parent) == ("properties", "global", "folder_5001")
    client.file_metadata.delete_file_metadata_by_id("12346", DeleteFileMetadataByIdScope.ENTERPRISE, "contract")
    with pytest.raises(BoxAPIError) as gone:
        client.file_metadata.get_file_metadata_by_id("12346", GetFileMetadataByIdScope.ENTERPRISE, "contract")
    assert gone.value.response_info.status_code == 404 and gone.value.response_info.code == "instance_not_found"


def _box(proxy, monkeypatch):
    from box_sdk_gen import BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.networking.network import NetworkSession
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca)
    network = NetworkSession().with_proxy(ProxyConfig(url=proxy.url))
    return BoxClient(BoxDeveloperTokenAuth(token="offline-demo-token"), network_session=network)


def test_box_sdk_gen_collaborations_are_accepted_for_people_here_pending_for_others_and_204_to_owner(demo, monkeypatch):
    """As box-sdk-gen's suite has it (test/user_collaborations.py): a user of the enterprise is
    collaborating at once, an address nobody here has is invited (pending), and a role change to
    owner answers 204 with no body."""
    from box_sdk_gen.managers.user_collaborations import (
        CreateCollaborationAccessibleBy,
        CreateCollaborationAccessibleByTypeField,
        CreateCollaborationItem,
        CreateCollaborationItemTypeField,
        CreateCollaborationRole,
        UpdateCollaborationByIdRole,
    )

    client = _box(demo, monkeypatch)
    folder = CreateCollaborationItem(type=CreateCollaborationItemTypeField.FOLDER, id="5002")
    user = CreateCollaborationAccessibleByTypeField.USER
    inside = client.user_collaborations.create_collaboration(
        folder, CreateCollaborationAccessibleBy(type=user, id="11446502"), CreateCollaborationRole.EDITOR
    )
    outside = client.user_collaborations.create_collaboration(
        folder, CreateCollaborationAccessibleBy(type=user, login="kim@fabrikam.com"), CreateCollaborationRole.VIEWER
    )
    read = client.user_collaborations.get_collaboration_by_id(inside.id)
    assert _text(read.status) == "accepted" and read.invite_email is None
    assert read.accessible_by.login == "LynneR@contoso.com"
    invited = client.user_collaborations.get_collaboration_by_id(outside.id)
    assert _text(invited.status) == "pending" and invited.invite_email == "kim@fabrikam.com"
    handed = client.user_collaborations.update_collaboration_by_id(inside.id, role=UpdateCollaborationByIdRole.OWNER)
    assert handed is None  # 204: the SDK returns nothing
    assert _text(client.user_collaborations.get_collaboration_by_id(inside.id).role) == "owner"


def test_msgraph_sdk_gets_the_directorys_object_conflict_for_a_repeated_principal_name_or_nickname(demo):
    """Graph answers a user whose userPrincipalName another has (any casing), or a group whose
    mailNickname is taken, with 400 Request_BadRequest and an ObjectConflict detail naming it."""
    import asyncio

    from helpers import graph_client
    from msgraph.generated.models.group import Group
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.user import User

    async def flow():
        client, transport = graph_client(demo)
        errors = []
        try:
            for post in (
                client.users.post(User(display_name="M", user_principal_name="meganb@CONTOSO.com", mail_nickname="m2")),
                client.groups.post(Group(display_name="Mk", mail_nickname="Marketing", mail_enabled=False)),
            ):
                try:
                    await post
                    errors.append(None)
                except ODataError as e:
                    errors.append(e)
            fine = await client.users.post(User(display_name="New Hire", user_principal_name="NewH@contoso.com"))
            return errors, fine
        finally:
            await transport.aclose()

    (user, group), fine = asyncio.run(flow())
    for error, target in ((user, "userPrincipalName"), (group, "mailNickname")):
        assert error is not None and error.response_status_code == 400 and error.error.code == "Request_BadRequest"
        assert f"property {target} already exists" in error.error.message
        assert [(d.code, d.target) for d in error.error.details] == [("ObjectConflict", target)]
    assert fine.id and fine.user_principal_name == "NewH@contoso.com"


def test_msgraph_sdk_advanced_queries_need_consistency_level_and_prefer_and_etags_change_answers(demo):
    """Directory queries Graph runs only as advanced queries ($search, $count, endswith) are refused
    without ConsistencyLevel: eventual and answered with it; Prefer: return=minimal answers 204 and
    outlook.body-content-type="text" answers a message's HTML body as text; Outlook items carry an
    @odata.etag that changes when they do."""
    import asyncio

    from helpers import graph_client
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.users.users_request_builder import UsersRequestBuilder

    params = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters

    async def flow():
        client, transport = graph_client(demo)
        refused = []
        try:
            for query in (
                params(search='"displayName:Megan"'),
                params(count=True),
                params(filter="endswith(mail,'@contoso.com')"),
            ):
                try:
                    await client.users.get(RequestConfiguration(query_parameters=query))
                    refused.append(None)
                except ODataError as e:
                    refused.append(e)
            eventual = RequestConfiguration(
                headers={"ConsistencyLevel": "eventual"},
                query_parameters=params(
                    search='"displayName:Megan"', count=True, filter="endswith(mail,'@contoso.com')"
                ),
            )
            found = await client.users.get(eventual)
            return refused, found
        finally:
            await transport.aclose()

    refused, found = asyncio.run(flow())
    assert [(e.response_status_code, e.error.code) for e in refused] == [
        (400, "Request_UnsupportedQuery"),
        (400, "Request_BadRequest"),
        (400, "Request_UnsupportedQuery"),
    ]
    assert "ConsistencyLevel" in refused[0].error.message and "'mail'" in refused[2].error.message
    assert [u.display_name for u in found.value] == ["Megan Bowen"] and found.odata_count == 1

    s = session(demo)
    html_body = {"subject": "Agenda", "body": {"contentType": "html", "content": "<p>Item <b>one</b> &amp; two</p>"}}
    quiet = s.post(f"{G}/me/messages", json=html_body, headers={"Prefer": "return=minimal"})
    assert quiet.status_code == 204 and quiet.content == b"" and quiet.headers["Preference-Applied"] == "return=minimal"
    made = s.get(quiet.headers["Location"])
    assert made.status_code == 200 and made.json()["subject"] == "Agenda"
    etag = made.json()["@odata.etag"]
    assert etag.startswith('W/"') and s.get(quiet.headers["Location"]).json()["@odata.etag"] == etag
    as_text = s.get(quiet.headers["Location"], headers={"Prefer": 'outlook.body-content-type="text"'})
    assert as_text.json()["body"] == {"contentType": "text", "content": "Item one & two"}
    assert as_text.headers["Preference-Applied"] == 'outlook.body-content-type="text"'
    assert s.patch(quiet.headers["Location"], json={"subject": "Agenda v2"}).json()["@odata.etag"] != etag
    minimal = s.patch(quiet.headers["Location"], json={"isRead": True}, headers={"Prefer": "return=minimal"})
    assert minimal.status_code == 204


def test_msgraph_sdk_expand_inlines_navigations_one_level_with_their_select(demo):
    """`$expand` as Graph applies it: a single navigation (manager) and collections (members,
    attachments) inlined, each with the `$select` in its parentheses."""
    import asyncio

    from helpers import graph_client
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder

    async def flow():
        client, transport = graph_client(demo)
        try:
            query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(
                expand=["manager($select=id,displayName)"], select=["displayName"]
            )
            return await client.users.by_user_id("5f6b7c0e-1f2a-4b3c-9d4e-000000000001").get(
                RequestConfiguration(query_parameters=query)
            )
        finally:
            await transport.aclose()

    megan = asyncio.run(flow())
    assert megan.display_name == "Megan Bowen" and megan.manager.display_name == "Alex Wilber"
    s = session(demo)
    group = s.get(
        f"{G}/groups/02bd9fd6-8f93-4758-87c3-1fb73740a315", params={"$expand": "members($select=displayName)"}
    )
    members = group.json()["members"]
    assert sorted(m["displayName"] for m in members) == ["Alex Wilber", "Megan Bowen"]
    assert all(
        set(m) <= {"@odata.type", "id", "displayName"} and m["@odata.type"] == "#microsoft.graph.user" for m in members
    )
    listed = s.get(f"{G}/me/messages", params={"$expand": "attachments", "$top": "2"}).json()["value"]
    assert len(listed) == 2 and all(m["attachments"] == [] for m in listed)
    bad = s.get(f"{G}/me", params={"$expand": "nosuchthing"})
    assert bad.status_code == 400 and "nosuchthing" in bad.json()["error"]["message"]


def test_box_sdk_gen_if_match_and_if_none_match_hold_for_folders_as_for_files(demo, monkeypatch):
    """Box's conditional requests on any item with an etag: a change under a stale If-Match is 412
    precondition_failed, a read under the current If-None-Match is 304."""
    from box_sdk_gen.box.errors import BoxAPIError

    client = _box(demo, monkeypatch)
    folder = client.folders.create_folder("Board decks", parent=_box_parent("0"))
    with pytest.raises(BoxAPIError) as stale:
        client.folders.update_folder_by_id(folder.id, name="Decks", if_match="not-the-etag")
    assert stale.value.response_info.status_code == 412 and stale.value.response_info.code == "precondition_failed"
    renamed = client.folders.update_folder_by_id(folder.id, name="Decks", if_match=folder.etag)
    assert renamed.name == "Decks" and renamed.etag != folder.etag
    s = session(demo)
    assert s.get(f"{B}/folders/{folder.id}", headers={"If-None-Match": renamed.etag}).status_code == 304
    assert s.get(f"{B}/folders/{folder.id}", headers={"If-None-Match": folder.etag}).status_code == 200
    assert s.delete(f"{B}/folders/{folder.id}", headers={"If-Match": folder.etag}).status_code == 412
    assert s.get(f"{B}/files/12345", headers={"If-None-Match": "1"}).status_code == 304  # files, as before


def test_box_sdk_gen_delete_moves_files_folders_and_web_links_to_the_trash_to_restore_or_purge(demo, monkeypatch):
    """As Box does it (box-sdk-gen's test/trashed_*.py): a deleted item is in the trash, where it
    is read, restored or deleted for good; a trashed file or web link still reads, as trashed; a
    trashed folder does not, and takes what it holds with it."""
    import io

    from box_sdk_gen.box.errors import BoxAPIError
    from box_sdk_gen.managers.uploads import UploadFileAttributes, UploadFileAttributesParentField
    from box_sdk_gen.managers.web_links import CreateWebLinkParent

    client = _box(demo, monkeypatch)
    folder = client.folders.create_folder("Old campaigns", parent=_box_parent("0"))
    link = client.web_links.create_web_link("https://contoso.com/2025", CreateWebLinkParent(id=folder.id), name="2025")
    file = client.uploads.upload_file(
        UploadFileAttributes(name="brief.txt", parent=UploadFileAttributesParentField(id="0")), io.BytesIO(b"brief")
    ).entries[0]
    client.files.delete_file_by_id(file.id)
    assert client.trashed_files.get_trashed_file_by_id(file.id).name == "brief.txt"
    assert _text(client.files.get_file_by_id(file.id).item_status) == "trashed"
    assert "brief.txt" not in [e.name for e in client.folders.get_folder_items("0").entries]
    restored = client.trashed_files.restore_file_from_trash(file.id)
    assert restored.id == file.id and _text(client.files.get_file_by_id(file.id).item_status) == "active"

    client.folders.delete_folder_by_id(folder.id, recursive=True)
    assert client.trashed_folders.get_trashed_folder_by_id(folder.id).name == "Old campaigns"
    with pytest.raises(BoxAPIError) as trashed:
        client.folders.get_folder_by_id(folder.id)
    assert trashed.value.response_info.status_code == 404 and trashed.value.response_info.code == "trashed"
    assert _text(client.web_links.get_web_link_by_id(link.id).item_status) == "trashed"  # as box-sdk-gen's suite has it
    client.trashed_folders.restore_folder_from_trash(folder.id)
    assert client.web_links.get_web_link_by_id(link.id).name == "2025"  # back with its folder
    client.folders.delete_folder_by_id(folder.id, recursive=True)
    client.trashed_folders.delete_trashed_folder_by_id(folder.id)
    with pytest.raises(BoxAPIError) as purged:
        client.trashed_folders.get_trashed_folder_by_id(folder.id)
    assert purged.value.response_info.status_code == 404
    client.files.delete_file_by_id(file.id)
    client.trashed_files.delete_trashed_file_by_id(file.id)
    with pytest.raises(BoxAPIError):
        client.trashed_files.get_trashed_file_by_id(file.id)


def test_box_sdk_gen_acts_as_the_user_its_token_is_for_or_as_user_names(demo, monkeypatch):
    """box-sdk-gen's CCG sign-in with a user subject (test/auth.py) and its As-User header
    (test/client.py): /users/me is that user, and what the request creates is theirs."""
    from box_sdk_gen import BoxCCGAuth, BoxClient, CCGConfig
    from box_sdk_gen.networking.network import NetworkSession
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", demo.ca)
    network = NetworkSession().with_proxy(ProxyConfig(url=demo.url))
    auth = BoxCCGAuth(CCGConfig(client_id="app-id", client_secret="app-secret", enterprise_id="818181"))
    as_lynne = BoxClient(auth.with_user_subject("11446502"), network_session=network)
    assert as_lynne.users.get_user_me().login == "LynneR@contoso.com"
    made = as_lynne.folders.create_folder("Pipeline review", parent=_box_parent("0"))
    assert made.created_by.id == "11446502" and made.owned_by.login == "LynneR@contoso.com"
    service = BoxClient(auth, network_session=network)
    assert service.users.get_user_me().id == "11446498"  # the enterprise's token: its service account
    as_miriam = service.with_as_user_header("11446503")
    assert as_miriam.users.get_user_me().name == "Miriam Graham"


def test_box_sdk_gen_reaches_the_endpoints_box_serves_under_box_version_2025_0(demo, monkeypatch):
    """Archives and shield lists are in Box's versioned spec (box-version: 2025.0), not its main one:
    box-sdk-gen's managers send the header and get the world's records; without it, Box's 404."""
    client = _box(demo, monkeypatch)
    archive = client.archives.create_archive_v2025_r0("Closed deals 2025")
    listed = client.archives.get_archives_v2025_r0()
    assert archive.name == "Closed deals 2025" and archive.id in [a.id for a in listed.entries]
    client.archives.delete_archive_by_id_v2025_r0(archive.id)
    assert archive.id not in [a.id for a in client.archives.get_archives_v2025_r0().entries]
    s = session(demo)
    plain = s.get(f"{B}/archives")
    assert plain.status_code == 404 and "box-version: 2025.0" in plain.json()["message"]
    later = s.get(f"{B}/archives", headers={"box-version": "2026.0"})
    assert later.status_code == 200  # a later version serves what came before it


def test_box_sdk_gen_gets_a_thumbnail_once_box_has_made_it_202_first(demo, monkeypatch):
    """Box's thumbnail: 202 with a placeholder's Location and Retry-After until it is made, then the
    image; box-sdk-gen's get_file_thumbnail_by_id reads it."""
    from box_sdk_gen.managers.files import GetFileThumbnailByIdExtension

    s = session(demo)
    first = s.get(f"{B}/files/12347/thumbnail.png", allow_redirects=False)
    assert first.status_code == 202 and first.headers["Retry-After"] == "1" and first.headers["Location"]
    client = _box(demo, monkeypatch)
    image = client.files.get_file_thumbnail_by_id("12347", GetFileThumbnailByIdExtension.PNG).read()
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    assert s.get(f"{B}/files/12347/thumbnail.gif").status_code == 400


def test_filters_and_orders_read_property_names_in_any_casing_casts_and_isof(demo):
    """Microsoft's examples filter on `VideoTeleconferenceId`, on a cast
    (`microsoft.graph.aadUserConversationMember/userId`) and with `isof(...)`."""
    s = session(demo)
    made = [
        s.post(
            f"{G}/identity/conditionalAccess/namedLocations",
            json={
                "@odata.type": "#microsoft.graph.countryNamedLocation",
                "displayName": "Blocked",
                "countriesAndRegions": ["KP"],
            },
        ),
        s.post(
            f"{G}/identity/conditionalAccess/namedLocations",
            json={
                "@odata.type": "#microsoft.graph.ipNamedLocation",
                "displayName": "HQ",
                "isTrusted": True,
                "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "12.34.221.11/22"}],
            },
        ),
    ]
    assert [m.status_code for m in made] == [201, 201], [m.text for m in made]
    names = f"{G}/identity/conditionalAccess/namedLocations"
    countries = s.get(names, params={"$filter": "isof('microsoft.graph.countryNamedLocation')"}).json()["value"]
    assert [c["displayName"] for c in countries] == ["Blocked"]
    trusted = s.get(names, params={"$filter": "microsoft.graph.ipNamedLocation/isTrusted eq true"}).json()["value"]
    assert [t["displayName"] for t in trusted] == ["HQ"]
    shouted = s.get(names, params={"$filter": "DISPLAYNAME eq 'hq'", "$orderby": "DisplayName desc"})
    assert shouted.status_code == 200 and [t["displayName"] for t in shouted.json()["value"]] == ["HQ"]
    assert s.get(names, params={"$filter": "nosuch eq 1"}).status_code == 400


def test_msgraph_sdk_removes_a_member_by_ref_id_moves_and_renames_drive_items_and_streams_content(demo):
    """`DELETE .../members/$ref?@id=` (msgraph-sdk's form; the docs write $id), OneDrive's move and
    rename by PATCH (409 nameAlreadyExists on a taken name), and a OneNote page's content as a
    stream: HTML read, PATCH written."""
    import asyncio

    from helpers import graph_client
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.groups.item.members.ref.ref_request_builder import RefRequestBuilder
    from msgraph.generated.models.drive_item import DriveItem
    from msgraph.generated.models.item_reference import ItemReference
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    marketing, alex = "02bd9fd6-8f93-4758-87c3-1fb73740a315", "5f6b7c0e-1f2a-4b3c-9d4e-000000000003"

    async def flow():
        client, transport = graph_client(demo)
        try:
            query = RefRequestBuilder.RefRequestBuilderDeleteQueryParameters(id=f"{G}/directoryObjects/{alex}")
            await client.groups.by_group_id(marketing).members.ref.delete(RequestConfiguration(query_parameters=query))
            members = await client.groups.by_group_id(marketing).members.get()
            drive = await client.me.drive.get()
            items = client.drives.by_drive_id(drive.id).items
            root = await client.drives.by_drive_id(drive.id).root.get()
            children = (await items.by_drive_item_id(root.id).children.get()).value
            folder = next(c for c in children if c.folder is not None)
            budget = next(c for c in children if c.name == "Budget.csv")
            moved = await items.by_drive_item_id(budget.id).patch(
                DriveItem(name="Budget 2026.csv", parent_reference=ItemReference(id=folder.id))
            )
            inside = (await items.by_drive_item_id(folder.id).children.get()).value
            try:
                await items.by_drive_item_id(moved.id).patch(DriveItem(name="Welcome.txt"))
                clash = None
            except ODataError as e:
                clash = e
            return members, budget, moved, inside, clash
        finally:
            await transport.aclose()

    members, budget, moved, inside, clash = asyncio.run(flow())
    assert alex not in [m.id for m in members.value]
    assert moved.id == budget.id and moved.name == "Budget 2026.csv" and moved.e_tag != budget.e_tag
    assert "Budget 2026.csv" in [i.name for i in inside]
    assert clash is not None and clash.response_status_code == 409 and clash.error.code == "nameAlreadyExists"
    s = session(demo)
    page = s.get(f"{G}/me/onenote/pages/p1/content")
    assert (
        page.status_code == 200 and page.headers["Content-Type"].startswith("text/html") and b"<body>" in page.content
    )
    edit = [{"target": "body", "action": "append", "content": "<p>Next steps</p>"}]
    assert s.patch(f"{G}/me/onenote/pages/p1/content", json=edit).status_code == 204


def test_box_sdk_gen_metadata_templates_are_kept_changed_by_operations_and_name_their_instances(demo, monkeypatch):
    """As box-sdk-gen's suite uses them (test/metadata_templates.py): a template created reads back
    by scope and key and by id, lists, takes Box's operations, answers which template an instance
    is of, and is gone once deleted."""
    from box_sdk_gen.box.errors import BoxAPIError
    from box_sdk_gen.managers.file_metadata import CreateFileMetadataByIdScope
    from box_sdk_gen.managers.metadata_templates import (
        CreateMetadataTemplateFields,
        CreateMetadataTemplateFieldsOptionsField,
        CreateMetadataTemplateFieldsTypeField,
        DeleteMetadataTemplateScope,
        GetMetadataTemplateScope,
        UpdateMetadataTemplateRequestBody,
        UpdateMetadataTemplateRequestBodyOpField,
        UpdateMetadataTemplateScope,
    )

    client = _box(demo, monkeypatch)
    kind = CreateMetadataTemplateFieldsTypeField
    made = client.metadata_templates.create_metadata_template(
        "enterprise",
        "Invoice",
        template_key="invoice",
        fields=[
            CreateMetadataTemplateFields(type=kind.STRING, key="vendor", display_name="Vendor"),
            CreateMetadataTemplateFields(
                type=kind.ENUM,
                key="state",
                display_name="State",
                options=[CreateMetadataTemplateFieldsOptionsField(key="Open")],
            ),
        ],
    )
    assert made.template_key == "invoice" and [f.key for f in made.fields] == ["vendor", "state"]
    op = UpdateMetadataTemplateRequestBodyOpField
    updated = client.metadata_templates.update_metadata_template(
        UpdateMetadataTemplateScope.ENTERPRISE,
        "invoice",
        [
            UpdateMetadataTemplateRequestBody(
                op=op.ADDFIELD, field_key="total", data={"type": "float", "displayName": "Total"}
            ),
            UpdateMetadataTemplateRequestBody(op=op.ADDENUMOPTION, field_key="state", data={"key": "Paid"}),
            UpdateMetadataTemplateRequestBody(op=op.EDITTEMPLATE, data={"displayName": "Invoices"}),
        ],
    )
    assert updated.display_name == "Invoices" and [f.key for f in updated.fields] == ["vendor", "state", "total"]
    assert [o.key for o in updated.fields[1].options] == ["Open", "Paid"]
    assert client.metadata_templates.get_metadata_template_by_id(made.id).display_name == "Invoices"
    listed = client.metadata_templates.get_enterprise_metadata_templates()
    assert {"contract", "invoice"} <= {t.template_key for t in listed.entries}
    instance = client.file_metadata.create_file_metadata_by_id(
        "12347", CreateFileMetadataByIdScope.ENTERPRISE, "invoice", {"vendor": "Fabrikam"}
    )
    of = client.metadata_templates.get_metadata_templates_by_instance_id(instance.id)
    assert [t.template_key for t in of.entries] == ["invoice"]
    client.metadata_templates.delete_metadata_template(DeleteMetadataTemplateScope.ENTERPRISE, "invoice")
    with pytest.raises(BoxAPIError) as gone:
        client.metadata_templates.get_metadata_template(GetMetadataTemplateScope.ENTERPRISE, "invoice")
    assert gone.value.response_info.status_code == 404
