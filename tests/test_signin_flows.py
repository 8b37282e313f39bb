"""Delegated sign-in, offline: the authorization code flow with PKCE, the device code flow and refresh
tokens, as Microsoft identity answers them, driven by MSAL, azure-identity and msgraph-sdk through a
running proxy; then the endpoints' rules in-process (tapeproxy.sim.router.sign_in needs no world)."""

import asyncio
import base64
import hashlib
import json
import re
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tapeproxy.core import permissions
from tapeproxy.sim.http import SimRequest
from tapeproxy.sim.router import sign_in

TENANT = "contoso.onmicrosoft.com"
AUTHORITY = f"https://login.microsoftonline.com/{TENANT}"
LOGIN = "login.microsoftonline.com"
CLIENT = "2f1c9a3e-6b7d-4e8f-9a0b-1c2d3e4f5a6b"
REDIRECT = "http://localhost:8400/callback"
ME = ("5f6b7c0e-1f2a-4b3c-9d4e-000000000001", "MeganB@contoso.com")  # the default world's /me


def claims(jwt: str) -> dict:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- real clients through `tapeproxy demo` --------------------------------------------------------
@pytest.fixture
def through(demo, monkeypatch):
    """The SDKs' HTTP (requests for MSAL and azure-identity, httpx for msgraph-sdk) sent through the
    demo proxy, trusting its CA."""
    bundle = Path(demo.ca).with_name("tapeproxy-ca-bundle.pem")
    ca = str(bundle if bundle.exists() else demo.ca)
    for name, value in {
        "HTTPS_PROXY": demo.url,
        "HTTP_PROXY": demo.url,
        "SSL_CERT_FILE": ca,
        "REQUESTS_CA_BUNDLE": ca,
        "NO_PROXY": "",
    }.items():
        monkeypatch.setenv(name, value)
    return demo


def public_app():
    import msal

    return msal.PublicClientApplication(CLIENT, authority=AUTHORITY, instance_discovery=False)


def browse(through, auth_uri: str) -> dict[str, str]:
    """What a browser would bring back to the redirect URI: the query of the authorize endpoint's
    302, or the fields of the form it posts (response_mode=form_post)."""
    reply = requests.get(auth_uri, allow_redirects=False, timeout=30)
    if reply.status_code == 200:
        assert f'action="{REDIRECT}"' in reply.text, reply.text
        return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', reply.text))
    assert reply.status_code == 302, reply.text
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return {k: v[0] for k, v in parse_qs(location.query).items()}


def test_msal_device_flow_signs_in_the_default_user_with_the_scopes_asked(through):
    app = public_app()
    flow = app.initiate_device_flow(scopes=["https://graph.microsoft.com/User.Read", "Mail.Read"])
    assert flow["verification_uri"] == "https://microsoft.com/devicelogin" and flow["interval"] == 1
    assert flow["user_code"] in flow["message"] and flow["expires_in"] == 900
    started = time.monotonic()
    result = app.acquire_token_by_device_flow(flow)
    assert time.monotonic() - started < 5  # approved at once: the first poll gets the tokens
    assert result["token_type"] == "Bearer", result
    access = claims(result["access_token"])
    assert sorted(access["scp"].split()) == ["Mail.Read", "User.Read", "openid", "profile"]  # MSAL sends a set
    assert (access["oid"], access["upn"], access["tid"]) == (*ME, TENANT)
    assert result["id_token_claims"]["preferred_username"] == ME[1] and result["id_token_claims"]["aud"] == CLIENT
    assert set(result["scope"].split()) >= {"https://graph.microsoft.com/User.Read", "openid", "offline_access"}
    assert [a["username"] for a in app.get_accounts()] == [ME[1]]
    again = app.acquire_token_by_device_flow(flow)  # a device code is redeemed once
    assert again["error"] == "invalid_grant" and again["error_codes"] == [54005]


def test_msal_auth_code_flow_with_pkce_then_silent_refresh(through):
    app = public_app()
    flow = app.initiate_auth_code_flow(
        ["User.Read"], redirect_uri=REDIRECT, login_hint="AdeleV@contoso.com", response_mode="form_post"
    )
    answer = browse(through, flow["auth_uri"])
    assert answer["state"] == flow["state"] and answer["code"]
    result = app.acquire_token_by_auth_code_flow(flow, answer)
    assert "access_token" in result, result
    id_claims = result["id_token_claims"]
    assert id_claims["preferred_username"] == "AdeleV@contoso.com" and id_claims["nonce"]
    assert id_claims["iss"] == f"https://login.microsoftonline.com/{TENANT}/v2.0" and id_claims["ver"] == "2.0"
    assert "User.Read" in claims(result["access_token"])["scp"].split()
    assert result["refresh_token"]

    account = app.get_accounts(username="AdeleV@contoso.com")[0]
    silent = app.acquire_token_silent(["Mail.Send"], account=account, force_refresh=True)
    assert silent and "access_token" in silent, silent
    assert silent["access_token"] != result["access_token"]
    refreshed = claims(silent["access_token"])
    assert refreshed["upn"] == "AdeleV@contoso.com"
    assert set(refreshed["scp"].split()) == {"Mail.Send", "openid", "profile"}  # narrowed to what was asked


def test_a_wrong_pkce_verifier_and_a_reused_code_are_refused(through):
    app = public_app()
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT, response_mode="form_post")
    answer = browse(through, flow["auth_uri"])
    token_url = f"{AUTHORITY}/oauth2/v2.0/token"
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT,
        "code": answer["code"],
        "redirect_uri": REDIRECT,
        "scope": "User.Read openid offline_access",
    }
    wrong = requests.post(token_url, data={**form, "code_verifier": "not-" + flow["code_verifier"]}, timeout=30)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert wrong.json()["error_description"].startswith("AADSTS501481")

    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT, response_mode="form_post")
    answer = browse(through, flow["auth_uri"])
    form |= {"code": answer["code"], "code_verifier": flow["code_verifier"]}
    assert requests.post(token_url, data=form, timeout=30).status_code == 200
    reused = requests.post(token_url, data=form, timeout=30)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert reused.json()["error_codes"] == [54005]


def test_device_code_credential_signs_msgraph_sdk_in_to_get_me(through):
    from azure.identity import DeviceCodeCredential
    from msgraph import GraphServiceClient

    prompts = []
    credential = DeviceCodeCredential(
        client_id=CLIENT,
        tenant_id=TENANT,
        prompt_callback=lambda uri, code, expires_on: prompts.append((uri, code)),
        disable_instance_discovery=True,
    )
    client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/User.Read"])
    me = asyncio.run(client.me.get())
    assert (me.id, me.user_principal_name) == ME and me.display_name == "Megan Bowen"
    assert len(prompts) == 1 and prompts[0][0] == "https://microsoft.com/devicelogin"
    # the SDK asks with CAE on, which azure-identity caches apart: asked alike, the cached token answers
    token = credential.get_token("https://graph.microsoft.com/User.Read", enable_cae=True)
    assert "User.Read" in claims(token.token)["scp"].split() and len(prompts) == 1  # from its cache


# --- the endpoints' rules, in-process ---------------------------------------------------------------
def get(path: str, **query) -> tuple[int, dict, dict]:
    """The status, headers and JSON (or the redirect's query) of a GET sign_in answers."""
    reply = sign_in(SimRequest.make("GET", LOGIN, f"/{TENANT}{path}?{urlencode(query)}"))
    assert reply is not None
    headers = dict(reply.headers)
    if reply.status == 302:
        return 302, headers, {k: v[0] for k, v in parse_qs(urlsplit(headers["Location"]).query).items()}
    return reply.status, headers, json.loads(reply.body)


def post(path: str, **form) -> tuple[int, dict]:
    reply = sign_in(SimRequest.make("POST", LOGIN, f"/{TENANT}{path}", body=urlencode(form).encode()))
    assert reply is not None
    return reply.status, json.loads(reply.body)


def authorize(**query) -> str:
    query = {"client_id": CLIENT, "redirect_uri": REDIRECT, "response_type": "code", "scope": "User.Read", **query}
    status, _, answer = get("/oauth2/v2.0/authorize", **query)
    assert status == 302 and "code" in answer, answer
    return answer["code"]


def redeem(code: str, **form) -> tuple[int, dict]:
    form = {"grant_type": "authorization_code", "client_id": CLIENT, "code": code, "redirect_uri": REDIRECT, **form}
    return post("/oauth2/v2.0/token", **form)


@pytest.mark.parametrize(
    "missing, parameter", [({"client_id": ""}, "client_id"), ({"redirect_uri": ""}, "redirect_uri")]
)
def test_authorize_without_client_or_redirect_is_a_400(missing, parameter):
    query = {"client_id": CLIENT, "redirect_uri": REDIRECT, "response_type": "code", "scope": "openid", **missing}
    status, _, body = get("/oauth2/v2.0/authorize", **query)
    assert status == 400 and body["error"] == "invalid_request" and parameter in body["error_description"]
    assert body["error_codes"] == [900144] and body["trace_id"] and body["correlation_id"]


def test_authorize_refuses_other_response_types_and_sends_scope_errors_back():
    status, _, body = get(
        "/oauth2/v2.0/authorize", client_id=CLIENT, redirect_uri=REDIRECT, response_type="token", scope="openid"
    )
    assert status == 400 and body["error"] == "unsupported_response_type"
    status, _, answer = get(
        "/oauth2/v2.0/authorize",
        client_id=CLIENT,
        redirect_uri=REDIRECT,
        response_type="code",
        scope="User.Read Not.A.Permission",
        state="s1",
    )
    assert status == 302 and answer["error"] == "invalid_scope" and answer["state"] == "s1"
    assert answer["error_description"].startswith("AADSTS70011")


def test_the_answer_goes_back_as_response_mode_asks():
    query = {"client_id": CLIENT, "redirect_uri": REDIRECT + "?app=1", "response_type": "code", "scope": "openid"}
    status, headers, answer = get("/oauth2/v2.0/authorize", **query, state="s2")
    assert status == 302 and answer["app"] == "1" and answer["state"] == "s2" and answer["code"]
    status, headers, _ = get("/oauth2/v2.0/authorize", **query, response_mode="fragment")
    assert status == 302 and urlsplit(headers["Location"]).fragment.startswith("code=")


def test_pkce_s256_and_plain_and_a_missing_verifier():
    verifier = "v" * 43
    s256 = b64url(hashlib.sha256(verifier.encode()).digest())
    code = authorize(code_challenge=s256, code_challenge_method="S256")
    assert redeem(code, code_verifier=verifier)[0] == 200
    code = authorize(code_challenge=verifier, code_challenge_method="plain")
    assert redeem(code, code_verifier=verifier)[0] == 200
    code = authorize(code_challenge=s256, code_challenge_method="S256")
    status, body = redeem(code)
    assert status == 400 and body["error_codes"] == [501481]


def test_a_code_is_bound_to_its_client_and_redirect_uri_and_expires(monkeypatch):
    status, body = redeem(authorize(), redirect_uri="http://localhost:9/elsewhere")
    assert status == 400 and body["error_codes"] == [500112]
    status, body = redeem(authorize(), client_id="another-app")
    assert status == 400 and body["error"] == "invalid_grant"
    assert redeem("1.Anever-issued")[1]["error_codes"] == [9002313]
    code = authorize()
    later = time.time() + 601
    monkeypatch.setattr(time, "time", lambda: later)
    status, body = redeem(code)
    assert status == 400 and body["error"] == "invalid_grant" and body["error_codes"] == [70008]


def test_token_response_carries_what_the_scopes_ask_for():
    code = authorize(scope="https://graph.microsoft.com/User.Read openid profile offline_access", nonce="n-1")
    status, body = redeem(code, client_info="1")
    assert status == 200 and body["token_type"] == "Bearer"
    assert body["scope"] == "https://graph.microsoft.com/User.Read openid profile offline_access"
    assert body["expires_in"] == body["ext_expires_in"] == 3599
    id_claims = claims(body["id_token"])
    assert (id_claims["aud"], id_claims["nonce"], id_claims["oid"], id_claims["tid"]) == (CLIENT, "n-1", ME[0], TENANT)
    assert id_claims["iat"] <= id_claims["nbf"] < id_claims["exp"] and id_claims["sub"]
    assert json.loads(base64.urlsafe_b64decode(body["client_info"] + "==")) == {"uid": ME[0], "utid": TENANT}

    status, bare = redeem(authorize(scope="User.Read"))  # no openid, no offline_access, no client_info=1
    assert status == 200 and set(bare) & {"id_token", "refresh_token", "client_info"} == set()
    assert claims(bare["access_token"])["scp"] == "User.Read"


def test_dot_default_is_every_delegated_permission():
    status, body = redeem(authorize(scope="00000003-0000-0000-c000-000000000000/.default"))
    assert status == 200
    scp = set(claims(body["access_token"])["scp"].split())
    assert scp == set(permissions.delegated_names()) - {"openid", "profile", "email", "offline_access"}


def test_device_code_and_refresh_token_grants():
    status, device = post("/oauth2/v2.0/devicecode", client_id=CLIENT, scope="User.Read Mail.Read offline_access")
    assert status == 200 and device["interval"] == 1 and device["verification_uri"] in device["message"]
    form = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": CLIENT}
    status, body = post("/oauth2/v2.0/token", **form, device_code=device["device_code"])
    assert status == 200 and body["refresh_token"]
    status, unknown = post("/oauth2/v2.0/token", **form, device_code="never-issued")
    assert status == 400 and unknown["error"] == "invalid_grant"

    refresh = {"grant_type": "refresh_token", "client_id": CLIENT, "refresh_token": body["refresh_token"]}
    status, same = post("/oauth2/v2.0/token", **refresh)
    assert status == 200 and claims(same["access_token"])["scp"] == "User.Read Mail.Read"
    status, narrowed = post("/oauth2/v2.0/token", **refresh, scope="Mail.Read offline_access")
    assert status == 200 and claims(narrowed["access_token"])["scp"] == "Mail.Read"
    assert claims(narrowed["access_token"])["oid"] == ME[0]
    status, bad = post("/oauth2/v2.0/token", **refresh | {"refresh_token": "1.AQnever-issued"})
    assert status == 400 and bad["error"] == "invalid_grant" and bad["error_codes"] == [9002313]


def test_devicecode_refuses_unknown_scopes_and_a_missing_client():
    status, body = post("/oauth2/v2.0/devicecode", client_id=CLIENT, scope="User.Read Made.Up")
    assert status == 400 and body["error"] == "invalid_scope" and body["error_codes"] == [70011]
    status, body = post("/oauth2/v2.0/devicecode", scope="User.Read")
    assert status == 400 and body["error_codes"] == [900144]


def test_client_credentials_token_holds_every_application_permission():
    status, body = post(
        "/oauth2/v2.0/token",
        grant_type="client_credentials",
        client_id=CLIENT,
        client_secret="s",
        scope="https://graph.microsoft.com/.default",
    )
    assert status == 200
    token = claims(body["access_token"])
    assert token["roles"] == sorted(permissions.application_names()) and "scp" not in token


def test_a_delegated_sign_in_reads_me_and_is_refused_what_its_scopes_do_not_allow(through):
    """msgraph-sdk on a device-code sign-in for User.Read: /me answers; listing users and the seed
    operation (application permission only) are Graph's 403s."""
    from azure.identity import DeviceCodeCredential
    from helpers import GRAPH_DEF, GRAPH_TASK
    from msgraph import GraphServiceClient
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.print_task import PrintTask
    from msgraph.generated.models.print_task_processing_state import PrintTaskProcessingState
    from msgraph.generated.models.print_task_status import PrintTaskStatus

    credential = DeviceCodeCredential(
        client_id=CLIENT, tenant_id=TENANT, prompt_callback=lambda *_: None, disable_instance_discovery=True
    )
    client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/User.Read"])
    task = client.print.task_definitions.by_print_task_definition_id(GRAPH_DEF).tasks.by_print_task_id(GRAPH_TASK)

    async def calls():
        me = await client.me.get()
        refused = []
        for call in (
            client.users.get(),
            task.patch(PrintTask(status=PrintTaskStatus(state=PrintTaskProcessingState.Completed))),
        ):
            with pytest.raises(ODataError) as e:
                await call
            refused.append((e.value.response_status_code, e.value.error.code))
        return me, refused

    me, refused = asyncio.run(calls())
    assert me.id == ME[0]
    assert refused == [(403, "Authorization_RequestDenied"), (403, "accessDenied")]


def test_an_app_signed_in_with_a_client_secret_updates_the_seed_task(through):
    """ClientSecretCredential: the default registration's application token holds the print role."""
    from azure.identity.aio import ClientSecretCredential
    from helpers import GRAPH_DEF, GRAPH_TASK
    from msgraph import GraphServiceClient
    from msgraph.generated.models.print_task import PrintTask
    from msgraph.generated.models.print_task_processing_state import PrintTaskProcessingState
    from msgraph.generated.models.print_task_status import PrintTaskStatus

    async def update():
        credential = ClientSecretCredential(TENANT, CLIENT, "app-secret", connection_verify=str(through.ca))
        try:
            client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
            task = client.print.task_definitions.by_print_task_definition_id(GRAPH_DEF)
            body = PrintTask(status=PrintTaskStatus(state=PrintTaskProcessingState.Processing, description="x"))
            return await task.tasks.by_print_task_id(GRAPH_TASK).patch(body)
        finally:
            await credential.close()

    assert asyncio.run(update()).status.state == PrintTaskProcessingState.Processing
