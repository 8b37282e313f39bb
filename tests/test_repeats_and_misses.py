"""Repeated requests play back in order; misses are answered in the API's envelope, never forwarded."""

import pytest
import requests
from helpers import BOX_TASK_URL, GRAPH_TASK_URL, ROOT, interaction, write_cassette


def get(proxy, url, **kw):
    return requests.request(kw.pop("method", "GET"), url, proxies={"https": proxy.url}, verify=proxy.ca, **kw)


def sequence_cassette(tmp_path):
    return write_cassette(
        tmp_path / "seq.yaml",
        [
            interaction("GET", GRAPH_TASK_URL, body={"status": {"state": "pending"}}),
            interaction("GET", GRAPH_TASK_URL, body={"status": {"state": "processing"}}),
            interaction("GET", BOX_TASK_URL, body={"id": "11446498"}),
            interaction("GET", GRAPH_TASK_URL, body={"status": {"state": "completed"}}),
        ],
    )


def test_nth_request_gets_nth_response_then_last_repeats(start_cli, tmp_path):
    sequence_cassette(tmp_path)
    proxy = start_cli("replay", str(tmp_path))  # a directory stands for the cassettes in it
    states = [get(proxy, GRAPH_TASK_URL).json()["status"]["state"] for _ in range(5)]
    assert states == ["pending", "processing", "completed", "completed", "completed"]


def test_no_repeat_last_turns_exhaustion_into_a_miss(start_cli, tmp_path):
    proxy = start_cli("replay", str(sequence_cassette(tmp_path)), "--no-repeat-last")
    assert [get(proxy, GRAPH_TASK_URL).status_code for _ in range(3)] == [200, 200, 200]
    r = get(proxy, GRAPH_TASK_URL)
    assert r.status_code == 404 and r.headers["X-Tapeproxy-Miss"] == "1"
    assert "all 3 recorded responses" in r.json()["error"]["message"]
    assert "seq.yaml #1, #2, #4" in r.json()["error"]["message"]


def test_graph_miss_names_the_closest_interaction_and_what_differed(start_cli):
    proxy = start_cli("replay", str(ROOT / "cassettes"))
    r = get(
        proxy,
        GRAPH_TASK_URL,
        method="PATCH",
        json={"status": {"state": "aborted", "description": "completed"}},
        headers={"client-request-id": "my-correlation-id"},
    )
    assert r.status_code == 404
    assert r.headers["X-Tapeproxy-Miss"] == "1"
    assert r.headers["client-request-id"] == "my-correlation-id" and r.headers["request-id"]
    error = r.json()["error"]
    assert error["code"] == "tapeproxyNoRecordedInteraction"
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert error["innerError"]["client-request-id"] == "my-correlation-id"
    assert "closest: PATCH" in error["message"] and "graph-print-tasks.yaml #4" in error["message"]
    assert "body.status.state differs: 'aborted' vs 'completed'" in error["message"]
    # logged loudly, on the proxy's own output
    assert proxy.wait_for("MISS PATCH https://graph.microsoft.com")
    assert proxy.stop() == 0
    assert "1 request(s) missed" in proxy.output


def test_box_miss_uses_box_envelope_and_configured_status(start_cli):
    proxy = start_cli("replay", str(ROOT / "cassettes"), "--miss-status", "599")
    r = get(proxy, "https://api.box.com/2.0/tasks/999")
    assert r.status_code == 599
    body = r.json()
    assert set(body) == {"type", "status", "code", "message", "context_info", "help_url", "request_id"}
    assert body["type"] == "error" and body["status"] == 599
    assert body["code"] == "tapeproxy_no_recorded_interaction"
    assert "path differs: '/2.0/tasks/999' vs '/2.0/tasks/11446498'" in body["message"]
    assert body["context_info"]["closest"].startswith("box-tasks.yaml #")
    assert r.headers["box-request-id"]


def test_misses_log_no_secret_the_request_carried(start_cli, tmp_path):
    from helpers import SECRETS

    path = write_cassette(
        tmp_path / "tok.yaml",
        [
            # not a token endpoint (those fall back on simulated sign-in, and their credentials never count)
            interaction(
                "POST",
                "https://login.microsoftonline.com/t/oauth2/v2.0/logout",
                req_body="grant_type=client_credentials&client_secret=REDACTED-client_secret-1",
                req_headers={"Content-Type": ["application/x-www-form-urlencoded"]},
                body={"ok": 1},
            ),
            interaction("GET", GRAPH_TASK_URL + "?access_token=REDACTED-access_token-1", body={"ok": 2}),
        ],
    )
    proxy = start_cli("replay", str(path))
    headers = {"Authorization": f"Bearer {SECRETS['bearer']}", "Cookie": SECRETS["cookie"]}
    r = get(proxy, GRAPH_TASK_URL + "/missing?access_token=" + SECRETS["access_token"], headers=headers)
    assert r.status_code == 404
    r = get(
        proxy,
        "https://login.microsoftonline.com/t/oauth2/v2.0/logout",
        method="POST",
        headers=headers,
        data={
            "grant_type": "refresh_token",
            "client_secret": SECRETS["client_secret"],
            "refresh_token": SECRETS["refresh_token"],
        },
    )
    message = r.json()["error_description"]  # the identity platform's error shape
    assert r.status_code == 404 and "grant_type differs" in message
    assert "client_secret" not in message  # redacted in the recording: it matches any value
    assert proxy.wait_for("grant_type") and proxy.wait_for("/missing"), proxy.output
    proxy.stop()
    for name, secret in SECRETS.items():
        assert secret.split("=")[-1] not in proxy.output, f"{name} leaked into the log"


def test_a_miss_fails_box_sdk_gen_with_one_request(start_cli, monkeypatch):
    """box-sdk-gen retries 429 and every 5xx with back-off: a miss it cannot retry fails at once."""
    from box_sdk_gen import BoxAPIError, BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    proxy = start_cli("replay", str(ROOT / "cassettes" / "box-tasks.yaml"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca)
    client = BoxClient(BoxDeveloperTokenAuth(token="t")).with_proxy(ProxyConfig(url=proxy.url))
    with pytest.raises(BoxAPIError) as raised:
        client.tasks.get_task_by_id("404404")
    assert raised.value.response_info.status_code == 404
    assert raised.value.response_info.headers["X-Tapeproxy-Miss"] == "1"
    assert proxy.stop() == 0
    assert sum("tasks/404404 -> 404 MISS" in line for line in proxy.lines) == 1, proxy.output
