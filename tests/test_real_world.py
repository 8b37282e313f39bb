"""Cassettes shaped like those other projects record, and the official SDKs with their defaults
(retries, sign-in): never a wrong answer, never a leak, every host a cassette names answered here.

The SDK tests (these and a few elsewhere, SDK_TESTS) also run inside a network namespace with no
route out, which proves that nothing they do needs the network.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers import ROOT, interaction, write_cassette

HERE = Path(__file__).parent
DATA = HERE / "data"
IN_NAMESPACE = os.environ.get("TAPEPROXY_TEST_NAMESPACE") == "1"
LINK = "shared_link=https://app.box.com/s/w9bsq1yfo7ybcv6u4k0mfzvmxkmr1af"  # + n (mp3) or z (vtt)
VTT = base64.b64decode("77u/V0VCVlRUCgowMDowMC4wMDAgLS0+IDAwOjAxLjAwMApDYWbpIAD/Cg==")


def served(proxy, pattern: str) -> list[str]:
    """The proxy's per-request log lines that match a regex."""
    return [line for line in proxy.lines if re.search(pattern, line)]


def box_client(proxy, monkeypatch, client_id="teammate-client-id", client_secret="teammate-secret"):
    """box-sdk-gen as an app builds it: client-credentials sign-in, default retries, through the proxy."""
    from box_sdk_gen import BoxCCGAuth, BoxClient, CCGConfig
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca)  # requests' verify comes from the environment
    auth = BoxCCGAuth(CCGConfig(client_id=client_id, client_secret=client_secret, enterprise_id="818181"))
    return BoxClient(auth).with_proxy(ProxyConfig(url=proxy.url))


# --- box-sdk-gen on a cassette recorded by someone else, with other credentials --------------------


def test_box_sdk_downloads_a_shared_link_file_via_its_boxcloud_redirect(start_cli, monkeypatch):
    proxy = start_cli("replay", str(DATA / "box-shared-links.yaml"))
    assert "public.boxcloud.com" in proxy.output or "*.boxcloud.com" in proxy.output  # listed at start-up
    client = box_client(proxy, monkeypatch)
    item = client.shared_links_files.find_file_for_shared_link(boxapi=LINK + "z")
    assert item.name == "lecture-01.vtt"
    assert client.downloads.download_file(item.id).read() == VTT  # binary, byte for byte
    assert proxy.stop() == 0
    # the recorded token exchange matched other credentials; the redirect target was answered too
    assert served(proxy, r"POST https://api\.box\.com/oauth2/token -> 200 cassette box-shared-links\.yaml #1")
    assert served(proxy, r"GET https://public\.boxcloud\.com/d/1/.*/download -> 200 cassette box-shared-links\.yaml #5")
    assert not served(proxy, r"MISS|tunnelling|went to the network|Traceback"), proxy.output


def test_recordings_that_differ_only_in_boxapi_each_answer_their_own_link(start_cli, monkeypatch):
    from box_sdk_gen import BoxAPIError

    proxy = start_cli("replay", str(DATA / "box-shared-links.yaml"))
    client = box_client(proxy, monkeypatch)
    links = client.shared_links_files
    assert links.find_file_for_shared_link(boxapi=LINK + "z").name == "lecture-01.vtt"
    assert links.find_file_for_shared_link(boxapi=LINK + "n").name == "lecture-01.mp3"
    assert links.find_file_for_shared_link(boxapi=LINK + "z").name == "lecture-01.vtt"
    # a link nobody recorded is a miss that names the header, not the first link's file
    with pytest.raises(BoxAPIError) as raised:
        links.find_file_for_shared_link(boxapi=LINK + "x")
    assert raised.value.response_info.status_code == 404
    assert (
        "header boxapi differs: '...mfzvmxkmr1afx' vs recorded '...mfzvmxkmr1afn'"
        in raised.value.response_info.body["message"]
    )
    assert proxy.stop() == 0
    # box-sdk-gen retries 429 and every 5xx with back-off: it asked once (bench/miss_time.py times it)
    assert len(served(proxy, r"GET https://api\.box\.com/2\.0/shared_items -> 404 MISS")) == 1, proxy.output


def test_box_sign_in_that_no_cassette_holds_is_answered_offline(start_cli, monkeypatch):
    proxy = start_cli("replay", str(ROOT / "cassettes" / "box-tasks.yaml"))
    task = box_client(proxy, monkeypatch).tasks.get_task_by_id("11446498")
    assert task.id == "11446498"
    assert proxy.stop() == 0
    assert served(proxy, r"POST https://api\.box\.com/oauth2/token -> 200 simulated sign-in")
    assert served(proxy, r"GET https://api\.box\.com/2\.0/tasks/11446498 -> 200 cassette")


# --- msgraph-sdk with ClientSecretCredential, under the pytest plugin ------------------------------

PLUGIN_SUITE = """
import asyncio

import pytest
import requests


def graph_client():
    from azure.identity.aio import ClientSecretCredential
    from msgraph import GraphServiceClient
    credential = ClientSecretCredential("contoso.onmicrosoft.com", "0b7e2d5a-app-of-a-teammate", "a-real-secret")
    return GraphServiceClient(credential, scopes=["https://graph.microsoft.com/.default"]), credential


@pytest.fixture
def proxied(tapeproxy, monkeypatch):
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    for name, value in tapeproxy.env.items():
        monkeypatch.setenv(name, value)
    return tapeproxy


@pytest.mark.tapeproxy(cassette="graph-users.yaml")
def test_lists_users(proxied):
    async def run():
        client, credential = graph_client()
        try:
            return await client.users.get()
        finally:
            await credential.close()

    users = asyncio.run(run())
    assert [u.display_name for u in users.value] == ["Adele Vance", "Alex Wilber"]
    # (msgraph-sdk asks for /v1.0//users: replay compares paths with slashes collapsed)
    sources = [(c.method, c.url.split("?")[0].replace("//users", "/users"), c.source) for c in proxied.calls]
    assert ("POST", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            "signin") in sources
    assert sources[-1] == ("GET", "https://graph.microsoft.com/v1.0/users", "cassette")

"""

GRAPH_USERS = [
    interaction(
        "GET",
        "https://graph.microsoft.com/v1.0/users",
        body={
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
            "value": [
                {"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "displayName": "Adele Vance"},
                {"id": "6e7b768e-07e2-4810-8459-485f84f8f204", "displayName": "Alex Wilber"},
            ],
        },
        req_headers={"Accept": ["application/json"], "Authorization": ["DUMMY"]},
    )
]


def test_msgraph_sdk_signs_in_with_a_client_secret_under_the_pytest_plugin(pytester):
    write_cassette(pytester.path / "graph-users.yaml", GRAPH_USERS)
    pytester.makepyfile(test_graph=PLUGIN_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


# --- hosts: every host a cassette names is answered here; nothing else leaves unnoticed -----------


def test_hosts_the_cassettes_name_are_intercepted_and_others_are_reported(start_cli, tmp_path, upstream):
    cassette = write_cassette(
        tmp_path / "hosts.yaml",
        [
            interaction("GET", "https://files.example.org/report.csv", body="a,b\n1,2\n"),
            interaction("GET", "https://dl.boxcloud.com/d/1/b1!abc/download", body="bytes"),
        ],
    )
    proxy = start_cli("replay", str(cassette))
    assert "files.example.org" in proxy.output and "*.boxcloud.com" in proxy.output, proxy.output
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    assert s.get("https://files.example.org/report.csv").text == "a,b\n1,2\n"
    assert s.get("https://dl.boxcloud.com/d/1/b1!abc/download").text == "bytes"
    r = s.get("https://files.example.org/other.csv")
    assert r.status_code == 404 and r.headers["X-Tapeproxy-Miss"] == "1"  # a miss, not the internet
    # a host no cassette names is tunnelled, as asked, and said so
    r = requests.get(f"https://127.0.0.1:{upstream.port}/", proxies={"https": proxy.url}, verify=str(upstream.cert))
    assert r.text == "upstream"
    assert proxy.wait_for(f"tunnelling 127.0.0.1:{upstream.port} to the network untouched"), proxy.output
    assert proxy.stop() == 0
    assert "1 connection(s) to hosts not intercepted went to the network (127.0.0.1: 1)" in proxy.output


def test_sign_in_hosts_are_intercepted_without_a_cassette_naming_them(start_cli, tmp_path):
    proxy = start_cli("replay", str(write_cassette(tmp_path / "c.yaml", GRAPH_USERS)))
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    r = s.post(
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "app",
            "client_secret": "real-secret",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"
    r = s.get("https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration")
    assert r.json()["token_endpoint"] == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    # another sign-in endpoint is a miss in the identity platform's own error shape
    r = s.get("https://login.microsoftonline.com/common/oauth2/v2.0/logout")
    assert r.status_code == 404 and r.json()["error"] == "tapeproxy_no_recorded_interaction"


# --- all of the SDK tests above, where nothing can reach the network ----------------------------

SDK_TESTS = [
    "test_real_world.py::test_box_sdk_downloads_a_shared_link_file_via_its_boxcloud_redirect",
    "test_real_world.py::test_recordings_that_differ_only_in_boxapi_each_answer_their_own_link",
    "test_real_world.py::test_box_sign_in_that_no_cassette_holds_is_answered_offline",
    "test_real_world.py::test_msgraph_sdk_signs_in_with_a_client_secret_under_the_pytest_plugin",
    "test_vcrpy.py::test_old_vcrpy_cassettes_with_tuple_tags_replay",
    "test_repeats_and_misses.py::test_a_miss_fails_box_sdk_gen_with_one_request",
]


def _can_unshare() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(IN_NAMESPACE or not _can_unshare(), reason="needs unprivileged user+network namespaces")
def test_sdks_inside_a_namespace_with_no_route_out():
    env = {**os.environ, "TAPEPROXY_TEST_NAMESPACE": "1"}
    script = f'ip link set lo up && exec "{sys.executable}" -m pytest -q -p no:cacheprovider {" ".join(SDK_TESTS)}'
    out = subprocess.run(
        ["unshare", "-rn", "sh", "-c", script], cwd=HERE, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stdout[-5000:] + out.stderr[-2000:]
    assert f"{len(SDK_TESTS)} passed" in out.stdout, out.stdout[-3000:]


@pytest.fixture(autouse=True)
def no_route_out_in_the_namespace():
    """Inside the namespace, prove it: the routing table is empty (only loopback answers)."""
    if IN_NAMESPACE:
        routes = Path("/proc/net/route").read_text().splitlines()[1:]
        assert routes == [], routes
    yield


def test_what_the_namespace_runs_exists():
    for node in SDK_TESTS:
        path, name = node.split("::")
        assert f"def {name}(" in (HERE / path).read_text(), node
