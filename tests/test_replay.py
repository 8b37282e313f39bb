"""Replay through a running `tapeproxy`, with real clients (requests, httpx, curl) over HTTPS."""

import json
import ssl
import subprocess

import httpx
import pytest
import requests
from helpers import AUTH, BOX_TASK_URL, GRAPH_DEF, GRAPH_TASK, GRAPH_TASK_URL, interaction, write_cassette

AUTH_HEADER = "Authorization: " + AUTH["Authorization"]


def session(proxy) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # the machine's REQUESTS_CA_BUNDLE would override verify
    s.proxies = {"http": proxy.url, "https": proxy.url}
    s.verify = proxy.ca
    s.headers.update(AUTH)
    return s


def test_demo_serves_graph_and_box_with_requests(demo):
    s = session(demo)
    r = s.get(f"https://graph.microsoft.com/v1.0/print/taskDefinitions/{GRAPH_DEF}/tasks")
    assert r.status_code == 200
    assert r.headers["OData-Version"] == "4.0" and r.headers["request-id"]
    assert [t["id"] for t in r.json()["value"]][0] == GRAPH_TASK
    r = s.get("https://api.box.com/2.0/files/12345/tasks")
    assert r.status_code == 200 and r.headers["box-request-id"]
    assert r.json()["entries"][0]["item"]["name"] == "Contract.pdf"


def test_json_body_matches_as_data_and_msgraph_double_slash(demo):
    # Key order, whitespace and the SDK's `/v1.0//print` do not matter.
    body = '{ "status" : {"description": "completed",   "state": "completed"} }'
    r = session(demo).patch(
        GRAPH_TASK_URL.replace("/v1.0/", "/v1.0//"), data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"]["state"] == "completed"


def test_httpx_http2(demo):
    # httpx offers http/1.1 first; like Graph and Box, tapeproxy still picks h2 when it is offered.
    tls = ssl.create_default_context(cafile=demo.ca)
    with httpx.Client(proxy=demo.url, verify=tls, http2=True, trust_env=False, headers=AUTH) as client:
        r = client.put(
            BOX_TASK_URL,
            json={
                "completion_rule": "all_assignees",
                "message": "Please review",
                "due_at": "2012-12-12T10:53:43-08:00",
                "action": "review",
            },
        )
    assert r.http_version == "HTTP/2"
    assert r.status_code == 200 and r.json()["message"] == "Please review"


def test_curl_http1_and_http2(demo):
    for flag in ("--http1.1", "--http2"):
        out = subprocess.run(
            [
                "curl",
                "-sS",
                flag,
                "--proxy",
                demo.url,
                "--cacert",
                demo.ca,
                "-H",
                AUTH_HEADER,
                "-w",
                "\n%{http_version} %{http_code}",
                "https://api.box.com/2.0/tasks/11446498/assignments",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        body, _, status = out.stdout.rpartition("\n")
        assert status == ("1.1 200" if flag == "--http1.1" else "2 200"), out.stderr
        assert json.loads(body)["entries"][0]["type"] == "task_assignment"


@pytest.fixture
def matching_cassette(tmp_path):
    return write_cassette(
        tmp_path / "matching.yaml",
        [
            interaction(
                "GET", "https://graph.microsoft.com/v1.0/print/taskDefinitions?$top=2&$skip=2", body={"page": 2}
            ),
            interaction("GET", "https://graph.microsoft.com/v1.0/print/taskDefinitions/a-b%20c", body={"id": "a-b c"}),
            # a form that is not a token request (in those, credential fields never count)
            interaction(
                "POST",
                "https://api.box.com/2.0/forms",
                body={"ok": "form"},
                req_body="grant_type=client_credentials&box_subject_type=enterprise&box_subject_id=1",
                req_headers={"Content-Type": ["application/x-www-form-urlencoded"]},
            ),
            interaction(
                "POST", "https://api.box.com/2.0/files/content", body={"ok": "bytes"}, req_body="raw\x00bytes?"
            ),
        ],
    )


def test_query_is_an_order_insensitive_multiset(start_cli, matching_cassette):
    proxy = start_cli("replay", str(matching_cassette))
    s = session(proxy)
    r = s.get("https://graph.microsoft.com/v1.0/print/taskDefinitions?%24skip=2&%24top=2")
    assert r.status_code == 200 and r.json() == {"page": 2}
    r = s.get("https://graph.microsoft.com/v1.0/print/taskDefinitions?$skip=2&$top=3")
    assert r.status_code == 404
    assert "query $top differs: '3' vs '2'" in r.json()["error"]["message"]


def test_path_percent_encoding_is_normalised(start_cli, matching_cassette):
    proxy = start_cli("replay", str(matching_cassette))
    r = session(proxy).get("https://graph.microsoft.com/v1.0/print/taskDefinitions/a%2Db%20c")
    assert r.status_code == 200 and r.json() == {"id": "a-b c"}


def test_form_bodies_match_as_fields_and_others_as_bytes(start_cli, matching_cassette):
    proxy = start_cli("replay", str(matching_cassette))
    s = session(proxy)
    r = s.post(
        "https://api.box.com/2.0/forms",
        data=[("box_subject_id", "1"), ("grant_type", "client_credentials"), ("box_subject_type", "enterprise")],
    )
    assert r.json() == {"ok": "form"}
    r = s.post("https://api.box.com/2.0/forms", data={"grant_type": "client_credentials"})
    assert r.status_code == 404 and "body field box_subject_id is missing" in r.json()["message"]
    assert s.post("https://api.box.com/2.0/files/content", data=b"raw\x00bytes?").json() == {"ok": "bytes"}
    r = s.post("https://api.box.com/2.0/files/content", data=b"raw\x00bytes!")
    assert r.status_code == 404 and "body differs (10 bytes vs recorded 10 bytes)" in r.json()["message"]


def test_match_on_is_configurable(start_cli, matching_cassette):
    proxy = start_cli("replay", str(matching_cassette), "--match-on", "method,host,path")
    r = session(proxy).post("https://api.box.com/2.0/files/content", data=b"anything else")
    assert r.status_code == 200 and r.json() == {"ok": "bytes"}


def test_range_and_if_none_match_are_answered_from_a_whole_recorded_body(start_cli, tmp_path):
    """Resumable downloads and media players ask for ranges; caches ask If-None-Match. The recording
    holds the whole 200, as the service sent it to a client that asked for everything."""
    content = bytes(i % 251 for i in range(4000))
    url = "https://api.box.com/2.0/files/12345/content"
    path = tmp_path / "download.yaml"
    write_cassette(
        path,
        [
            {
                "request": {"body": None, "headers": {}, "method": "GET", "uri": url},
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": ["application/pdf"], "ETag": ['"v1"'], "Accept-Ranges": ["bytes"]},
                    "body": {"string": content},
                },
            }
        ],
    )
    proxy = start_cli("replay", str(path))
    s = session(proxy)
    part = s.get(url, headers={"Range": "bytes=100-199"})
    assert (part.status_code, part.content) == (206, content[100:200])
    assert part.headers["Content-Range"] == "bytes 100-199/4000" and part.headers["Content-Length"] == "100"
    assert s.get(url, headers={"Range": "bytes=3990-"}).content == content[3990:]
    assert s.get(url, headers={"Range": "bytes=-10"}).content == content[-10:]
    beyond = s.get(url, headers={"Range": "bytes=5000-"})
    assert (beyond.status_code, beyond.headers["Content-Range"], beyond.content) == (416, "bytes */4000", b"")
    several = s.get(url, headers={"Range": "bytes=0-1,5-6"})  # not narrowed: the whole body, as RFC 9110 allows
    assert (several.status_code, several.content) == (200, content)
    stale = s.get(url, headers={"Range": "bytes=0-9", "If-Range": '"v0"'})  # the client holds another version
    assert (stale.status_code, len(stale.content)) == (200, 4000)
    cached = s.get(url, headers={"If-None-Match": 'W/"v1"'})
    assert (cached.status_code, cached.content, cached.headers["ETag"]) == (304, b"", '"v1"')
    assert s.get(url, headers={"If-None-Match": '"v0"'}).status_code == 200

    curl = subprocess.run(
        ["curl", "-sS", "-r", "100-199", "-x", proxy.url, "--cacert", proxy.ca, "-H", "Authorization: Bearer t", url],
        capture_output=True,
        timeout=30,
    )
    assert curl.stdout == content[100:200], curl.stderr
