"""Permissions as Graph enforces them (issue 31): the model of Microsoft's permissions reference,
Graph's 403 for a token whose claims do not allow a call, opaque tokens unchanged unless strict,
and the minimal-permissions report at exit, over the control API and from recordings."""

import asyncio
import base64
import json

import pytest
from helpers import CliProxy, proxied_session, run_cli, write_cassette

from tapeproxy.core import permissions
from tapeproxy.core.permission_report import PermissionUsage

SEED = "/v1.0/print/taskDefinitions/3203656e-6069-4e10-8147-d25290b00a3c/tasks/x"


# --- the model, in-process -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "request_path", "key"),
    [
        ("GET", "/v1.0/users/42/messages?$top=5", "/users/*/messages"),
        ("GET", "/beta/me/drive/root:/Reports/Q1.xlsx:/content", "/me/drive/root:/{id}:/content"),
        (
            "GET",
            "/v1.0/reports/getSharePointSiteUsageFileCounts(period='D7')",
            "/reports/getsharepointsiteusagefilecounts(period=*)",
        ),
        ("POST", "/v1.0/applications(appId='abc')/addKey", "/applications(appid=*)/addkey"),
        ("GET", "/v1.0/users('adele@contoso.com')", "/users/*"),
    ],
)
def test_request_paths_are_read_as_the_reference_writes_them(method, request_path, key):
    rule = permissions.lookup(method, request_path)
    assert rule is not None and rule.path == key
    assert permissions.path_key(key) == key  # the model's keys are their own keys


def test_the_seed_operation_takes_one_application_permission_and_no_delegated_one():
    rule = permissions.lookup("PATCH", SEED)
    assert rule is not None and rule.path == "/print/taskdefinitions/*/tasks/*"
    assert rule.names("application") == ["PrintTaskDefinition.ReadWrite.All"] and rule.names("delegated") == []
    assert not rule.allows("delegated", frozenset({"PrintTaskDefinition.ReadWrite.All"}))
    assert permissions.lookup("DELETE", SEED) is None  # not an operation the reference lists


def test_literal_segments_win_over_placeholders_and_least_is_the_marked_lowest():
    me = permissions.lookup("GET", "/v1.0/me")
    assert me is not None and me.path == "/me" and me.least("delegated") == ["User.Read"]
    assert me.names("application") == []  # /me needs a signed-in user
    send = permissions.lookup("POST", "/v1.0/me/sendMail")
    assert send is not None and send.least("delegated") == ["Mail.Send"]


def test_the_report_of_a_scripted_session_pure():
    usage = PermissionUsage()
    delegated = frozenset({"User.Read", "Mail.ReadWrite", "Files.ReadWrite.All"})
    usage.add("GET", "/v1.0/me", "delegated", delegated)
    usage.add("GET", "/v1.0/me/messages", "delegated", delegated)
    usage.add("POST", "/v1.0/me/sendMail", "delegated", delegated)
    usage.add("PATCH", SEED, "delegated", delegated)
    usage.add("PATCH", SEED, "application", frozenset({"PrintTaskDefinition.ReadWrite.All", "User.Read.All"}))
    usage.add("GET", "/v1.0/no/such/thing", None)
    r = usage.report()
    assert r["calls"] == 6 and r["unmapped"] == ["GET /no/such/thing"]
    assert r["delegated"]["minimal"] == ["Mail.ReadBasic", "Mail.Send", "User.Read"]
    assert r["delegated"]["excess"] == ["Files.ReadWrite.All"]  # Mail.ReadWrite allowed the messages
    assert [x["call"] for x in r["delegated"]["refused"]] == [
        "PATCH /print/taskdefinitions/*/tasks/*",
        "POST /me/sendmail",
    ]
    assert r["delegated"]["not_possible"] == ["PATCH /print/taskdefinitions/*/tasks/*"]
    assert r["application"] == {
        "minimal": ["PrintTaskDefinition.ReadWrite.All"],
        "excess": ["User.Read.All"],
        "refused": [],
        "not_possible": [],
    }
    for _ in range(3):  # repeats count as calls and change nothing else
        usage.add("GET", "/v1.0/me/messages", "delegated", delegated)
    again = usage.report()
    assert again["calls"] == 9 and {k: v for k, v in again.items() if k != "calls"} == {
        k: v for k, v in r.items() if k != "calls"
    }


# --- through a running proxy ------------------------------------------------------------------------


def token(*args: str) -> str:
    done = run_cli(["token", *args])
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def graph_demo(tmp_path_factory):
    proxy = CliProxy(["demo"], tmp_path_factory.mktemp("permsconf"))
    yield proxy
    proxy.stop()


def test_curl_style_calls_get_each_workloads_403_or_their_answer(graph_demo):
    reader = token("--scopes", "User.Read", "Mail.Read")
    s = proxied_session(graph_demo, reader)
    assert s.get("https://graph.microsoft.com/v1.0/me").status_code == 200
    assert s.get("https://graph.microsoft.com/v1.0/me/messages").status_code == 200
    users = s.get("https://graph.microsoft.com/v1.0/users")
    assert users.status_code == 403 and users.json()["error"]["code"] == "Authorization_RequestDenied"
    assert users.json()["error"]["message"] == "Insufficient privileges to complete the operation."
    assert "request-id" in users.headers and users.headers["Content-Type"].startswith("application/json")
    send = s.post("https://graph.microsoft.com/v1.0/me/sendMail", json={"message": {"subject": "hi"}})
    assert send.status_code == 403 and send.json()["error"]["code"] == "ErrorAccessDenied"
    files = s.get("https://graph.microsoft.com/v1.0/me/drive/root/children")
    assert files.status_code == 403 and files.json()["error"]["code"] == "accessDenied"
    channels = s.get("https://graph.microsoft.com/v1.0/teams/1/channels")
    assert (
        channels.status_code == 403
        and "Scopes on the request 'Mail.Read, User.Read'" in channels.json()["error"]["message"]
    )
    # the seed operation: never for a delegated token, whatever it holds
    seed = s.patch(f"https://graph.microsoft.com{SEED}", json={"status": {"state": "completed"}})
    assert seed.status_code == 403 and seed.json()["error"]["code"] == "accessDenied"
    said = s.get("http://tapeproxy/requests?method=PATCH&status=403").json()["requests"][-1]["served_by"]
    assert said == "permissions: refused, no delegated permission allows it"  # the journal's words
    # an app token with its role reaches the world (a 404 for a task that is not there, not a 403)
    app = proxied_session(graph_demo, token("--roles", "PrintTaskDefinition.ReadWrite.All"))
    assert app.patch(f"https://graph.microsoft.com{SEED}", json={"status": {"state": "completed"}}).status_code != 403
    assert app.get("https://graph.microsoft.com/v1.0/users").status_code == 403
    # an opaque token is all-powerful, as before
    assert proxied_session(graph_demo, "demo").get("https://graph.microsoft.com/v1.0/users").status_code == 200


def test_the_report_of_a_scripted_session_over_the_control_api_and_at_exit(start_cli, tmp_path):
    report_file = tmp_path / "report.json"
    proxy = start_cli("demo", "--report", str(report_file))
    user = proxied_session(proxy, token("--scopes", "User.Read", "Mail.ReadWrite", "Calendars.Read"))
    for path in ("/me", "/me/messages", "/me/events?$select=subject"):
        assert user.get(f"https://graph.microsoft.com/v1.0{path}").status_code == 200
    assert user.post("https://graph.microsoft.com/v1.0/me/sendMail", json={"message": {}}).status_code == 403
    app = proxied_session(proxy, token("--roles", "PrintTaskDefinition.ReadWrite.All", "User.Read.All"))
    assert app.get("https://graph.microsoft.com/v1.0/print/taskDefinitions").status_code == 200
    live = user.get("http://tapeproxy/permissions").json()
    expected = {
        "delegated": {
            "minimal": ["Calendars.ReadBasic", "Mail.ReadBasic", "Mail.Send", "User.Read"],
            "excess": [],
            "refused": [{"call": "POST /me/sendmail", "least": ["Mail.Send"]}],
            "not_possible": [],
        },
        "application": {
            "minimal": ["PrintTaskDefinition.ReadWrite.All"],
            "excess": ["User.Read.All"],
            "refused": [],
            "not_possible": [],
        },
    }
    assert {k: live[k] for k in expected} == expected and live["calls"] == 5
    said = user.get("http://tapeproxy/requests?method=POST").json()["requests"][-1]["served_by"]
    assert said == "permissions: refused, the delegated token needs Mail.Send"
    proxy.stop()
    at_exit = json.loads(report_file.read_text())["graph_permissions"]
    assert at_exit == live
    assert "Graph permissions (delegated), least privileged: Calendars.ReadBasic, Mail.ReadBasic" in proxy.output


def test_strict_permissions_refuses_opaque_tokens_too(start_cli):
    proxy = start_cli("demo", "--strict-permissions")
    r = proxied_session(proxy, "demo").get("https://graph.microsoft.com/v1.0/users")
    assert r.status_code == 403 and r.json()["error"]["code"] == "Authorization_RequestDenied"
    # a token with the claim still passes
    assert proxied_session(proxy, token("--roles", "User.Read.All")).get("https://graph.microsoft.com/v1.0/users").ok


def test_msgraph_sdk_with_a_minted_application_token_is_allowed_and_refused_as_graph_does(graph_demo):
    from helpers import graph_client
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    async def calls(client):
        users = await client.users.get()
        with pytest.raises(ODataError) as refused:
            await client.groups.get()
        return users, refused.value

    client, transport = graph_client(graph_demo, token("--roles", "User.Read.All"))
    try:
        users, refused = asyncio.run(calls(client))
    finally:
        asyncio.run(transport.aclose())
    assert users.value and refused.response_status_code == 403
    assert refused.error.code == "Authorization_RequestDenied"


def test_permissions_of_a_recording_offline(tmp_path):
    app = token("--roles", "User.Read.All", "Mail.Send")
    cassette = write_cassette(
        tmp_path / "session.yaml",
        [
            {
                "request": {
                    "method": "GET",
                    "uri": "https://graph.microsoft.com/v1.0/users?$select=id",
                    "body": None,
                    "headers": {"Authorization": [f"Bearer {app}"]},
                },
                "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": "{}"}},
            },
            {
                "request": {
                    "method": "GET",
                    "uri": "https://graph.microsoft.com/v1.0/groups",
                    "body": None,
                    "headers": {},
                },
                "response": {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": "{}"}},
            },
        ],
    )
    done = run_cli(["permissions", str(cassette), "--json"])
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["calls"] == 2
    # a call whose token the recording does not show counts for each kind that can make it
    assert report["application"]["minimal"] == ["Group.ReadBasic.All", "User.ReadBasic.All"]
    assert report["delegated"]["minimal"] == ["Group.ReadBasic.All"]
    assert report["application"]["excess"] == ["Mail.Send"]
    markdown = run_cli(["permissions", str(cassette)])
    assert "## Graph permissions" in markdown.stdout and "Mail.Send" in markdown.stdout
    bad = run_cli(["permissions", str(tmp_path / "missing.yaml")])
    assert bad.returncode == 2 and "missing.yaml" in bad.stderr and "Traceback" not in bad.stderr


def test_tapeproxy_token_refuses_unknown_names_with_a_suggestion():
    done = run_cli(["token", "--scopes", "User.Reed"])
    assert done.returncode == 2 and "User.Read" in done.stderr and "Traceback" not in done.stderr
    both = run_cli(["token", "--scopes", "User.Read", "--roles", "User.Read.All"])
    assert both.returncode == 2


def test_box_sdk_gen_with_a_token_of_box_scopes_reads_and_is_refused_a_write(graph_demo, monkeypatch):
    from box_sdk_gen import BoxAPIError, BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.managers.folders import CreateFolderParent
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", graph_demo.ca)
    scoped = token("--api", "box", "--scopes", "root_readonly")
    client = BoxClient(BoxDeveloperTokenAuth(token=scoped)).with_proxy(ProxyConfig(url=graph_demo.url))
    assert client.folders.get_folder_by_id("0").id == "0"
    with pytest.raises(BoxAPIError) as refused:
        client.folders.create_folder("made with a read-only token", CreateFolderParent(id="0"))
    assert refused.value.response_info.status_code == 403
    assert refused.value.response_info.code == "insufficient_scope"
    assert run_cli(["token", "--api", "box", "--scopes", "root_readwrite", "--user", "x"]).returncode == 2


# --- app registrations from the world file ---------------------------------------------------------

REGISTERED = "7a3c1f2e-0b4d-4e5f-8a9b-0c1d2e3f4a5b"
WORLD = f"""
graph:
  appRegistrations:
    - appId: {REGISTERED}
      displayName: Contoso Reader
      applicationPermissions: [User.Read.All]
      delegatedPermissions: [User.Read]
box:
  apps:
    - clientId: box-reader-app
      scopes: [root_readonly]
"""


@pytest.fixture
def registered_world(start_cli, tmp_path, monkeypatch):
    world = tmp_path / "world.yaml"
    world.write_text(WORLD)
    proxy = start_cli("demo", "--world", str(world))
    for name, value in {"HTTPS_PROXY": proxy.url, "HTTP_PROXY": proxy.url, "NO_PROXY": ""}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca)
    monkeypatch.setenv("SSL_CERT_FILE", proxy.ca)
    return proxy


def test_a_registered_app_gets_only_its_granted_roles_and_consented_scopes(registered_world):
    import msal
    from azure.identity.aio import ClientSecretCredential
    from msgraph import GraphServiceClient
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    async def as_the_app():
        credential = ClientSecretCredential(
            "contoso.onmicrosoft.com", REGISTERED, "s", connection_verify=registered_world.ca
        )
        try:
            client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
            users = await client.users.get()
            with pytest.raises(ODataError) as refused:
                await client.groups.get()
            token = await credential.get_token("https://graph.microsoft.com/.default")
            return users, refused.value, token.token
        finally:
            await credential.close()

    users, refused, app_token = asyncio.run(as_the_app())
    assert users.value is not None and refused.response_status_code == 403
    claims = json.loads(base64.urlsafe_b64decode(app_token.split(".")[1] + "=="))
    assert claims["roles"] == ["User.Read.All"] and claims["appid"] == REGISTERED
    # delegated: what was consented is granted; what was not, Entra's AADSTS65001
    app = msal.PublicClientApplication(
        REGISTERED, authority="https://login.microsoftonline.com/contoso.onmicrosoft.com", instance_discovery=False
    )
    flow = app.initiate_device_flow(scopes=["User.Read"])
    assert "user_code" in flow
    assert app.acquire_token_by_device_flow(flow)["scope"].split() == ["https://graph.microsoft.com/User.Read"] or (
        "https://graph.microsoft.com/User.Read"
        in app.acquire_token_silent(["User.Read"], app.get_accounts()[0])["scope"]
    )
    refused_flow = app.initiate_device_flow(scopes=["Mail.Read"])
    assert "AADSTS65001" in refused_flow.get("error_description", ""), refused_flow


def test_a_registered_box_app_gets_tokens_of_its_scopes(registered_world, monkeypatch):
    from box_sdk_gen import BoxAPIError, BoxCCGAuth, BoxClient, CCGConfig
    from box_sdk_gen.managers.folders import CreateFolderParent
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    auth = BoxCCGAuth(CCGConfig(client_id="box-reader-app", client_secret="s", enterprise_id="818181"))
    client = BoxClient(auth).with_proxy(ProxyConfig(url=registered_world.url))
    assert client.folders.get_folder_by_id("0").id == "0"
    with pytest.raises(BoxAPIError) as refused:
        client.folders.create_folder("not with a read-only app", CreateFolderParent(id="0"))
    assert refused.value.response_info.status_code == 403


def test_a_world_file_naming_an_unknown_permission_is_refused_at_its_line(tmp_path):
    world = tmp_path / "world.yaml"
    world.write_text(WORLD.replace("[User.Read.All]", "[User.Read.Al]"))
    done = run_cli(["lint", str(world)])
    assert done.returncode == 1 and f"{world}:6:" in done.stdout and "User.Read.All" in done.stdout, done.stdout
