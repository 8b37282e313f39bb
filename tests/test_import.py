"""`tapeproxy import`: HAR files and mitmproxy flow files become cassettes that replay what was captured.

mitmproxy's own files come from a real mitmdump run (`-w` and `hardump`) in front of a local HTTPS
stand-in; browser and Dev Proxy HAR files are written here in their documented shapes.
"""

import base64
import json
import signal

import pytest
import requests
from helpers import SECRETS, run_cli
from test_mitmdump import start

from tapeproxy.core import cassette

G = "https://graph.microsoft.com/v1.0"
REDIRECT = """
def server_connect(data):  # graph.microsoft.com and api.box.com are this local server
    data.server.address = ("127.0.0.1", {port})
"""


def session(proxy_url, ca):
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy_url}
    s.verify = ca
    s.headers.update({"Authorization": f"Bearer {SECRETS['bearer']}", "Cookie": SECRETS["cookie"]})
    return s


def calls(s):
    out = [s.get(f"{G}/seq").json() for _ in range(2)]
    out.append(s.patch(f"{G}/print/tasks/t1", json={"status": {"state": "completed"}}).json())
    out.append(s.get(f"{G}/gzip").json())
    out.append(s.get(f"{G}/binary").content)
    out.append(s.get(f"{G}/me?access_token={SECRETS['access_token']}").json()["path"].split("?")[0])
    out.append(
        s.post(
            "https://api.box.com/oauth2/token",
            data={"grant_type": "client_credentials", "client_secret": SECRETS["client_secret"]},
        ).json()
    )
    return out


@pytest.fixture
def captured(api, tmp_path, confdir):
    """What a client saw through mitmdump, and the flow file and HAR that mitmdump wrote of it."""
    script = tmp_path / "redirect.py"
    script.write_text(REDIRECT.format(port=api.port))
    flows, har = tmp_path / "capture.mitm", tmp_path / "capture.har"
    proc, url = start(
        "mitmdump", confdir, "-w", str(flows), "--set", f"hardump={har}", "--set", "ssl_insecure=true", script=script
    )
    try:
        live = calls(session(url, str(confdir / "mitmproxy-ca-cert.pem")))
    finally:
        proc.stop(signal.SIGINT, timeout=20)
    assert har.exists() and flows.exists(), proc.output
    return live, flows, har


def assert_no_secret(*texts):
    for name, secret in SECRETS.items():
        for text in texts:
            assert secret.split("=")[-1] not in text, f"{name} leaked"


@pytest.mark.parametrize("kind", ["har", "flows"])
def test_mitmproxy_captures_import_and_replay_what_the_client_saw(captured, kind, tmp_path, start_cli):
    live, flows, har = captured
    source = har if kind == "har" else flows
    out = tmp_path / f"imported-{kind}.yaml"
    done = run_cli(["import", str(source), "-o", str(out)])
    assert done.returncode == 0, done.stderr
    assert "tapeproxy import: 7 interaction(s)" in done.stdout and f"in {out}" in done.stdout
    assert_no_secret(out.read_text(), done.stdout, done.stderr)
    gz = cassette.load(out)[3].response
    assert not any(k.lower() == "content-encoding" for k, _ in gz.headers)  # stored decoded, header fixed

    replay = start_cli("replay", str(out))
    replayed = calls(session(replay.url, replay.ca))
    assert replayed[:6] == live[:6]
    assert replayed[6] == {
        **live[6],
        "access_token": "REDACTED-access_token-1",
        "refresh_token": "REDACTED-refresh_token-1",
    }
    replay.stop()
    assert "MISS" not in replay.output
    assert_no_secret(replay.output)


def har_file(path, entries, creator="WebInspector"):
    path.write_text(
        json.dumps({"log": {"version": "1.2", "creator": {"name": creator, "version": "1"}, "entries": entries}})
    )
    return path


def har_entry(method, url, status, text, headers=(), req_headers=(), post=None, encoding=None, error=None, **extra):
    content = {"size": len(text or ""), "mimeType": dict(headers).get("content-type", "")}
    if text is not None:
        content["text"] = text
    if encoding:
        content["encoding"] = encoding
    e = {
        "startedDateTime": "2026-11-22T10:00:00.000Z",
        "time": 42.5,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "http/2.0",
            "headers": [{"name": k, "value": v} for k, v in req_headers],
            "queryString": [],
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "http/2.0",
            "headers": [{"name": k, "value": v} for k, v in headers],
            "cookies": [],
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
        },
        "cache": {},
        "timings": {"send": 1, "wait": 40, "receive": 1.5},
        **extra,
    }
    if post is not None:
        e["request"]["postData"] = post
    if error:
        e["response"]["_error"] = error
    return e


def test_browser_har_imports_with_pseudo_headers_base64_and_stale_encoding(tmp_path, start_cli):
    task = {"id": "d036638b", "status": {"state": "processing", "description": "Processing"}}
    pseudo = [(":authority", "graph.microsoft.com"), (":method", "GET"), (":path", "/v1.0/x"), (":scheme", "https")]
    har = har_file(
        tmp_path / "chrome.har",
        [
            # Chrome: HTTP/2 pseudo-headers, decoded text under a stale content-encoding
            har_entry(
                "GET",
                f"{G}/print/tasks/1",
                200,
                json.dumps(task),
                [
                    ("content-type", "application/json;odata.metadata=minimal"),
                    ("content-encoding", "gzip"),
                    ("content-length", "77"),
                ],
                [*pseudo, ("authorization", f"Bearer {SECRETS['bearer']}")],
            ),
            # binary as base64
            har_entry(
                "GET",
                "https://api.box.com/2.0/files/12345/content",
                200,
                base64.b64encode(bytes(range(256))).decode(),
                [("content-type", "application/pdf")],
                encoding="base64",
            ),
            # a form given as params only, to a token endpoint
            har_entry(
                "POST",
                "https://api.box.com/oauth2/token",
                200,
                json.dumps({"access_token": SECRETS["access_token"]}),
                [("content-type", "application/json")],
                post={
                    "mimeType": "application/x-www-form-urlencoded",
                    "params": [
                        {"name": "grant_type", "value": "client_credentials"},
                        {"name": "client_secret", "value": SECRETS["client_secret"]},
                    ],
                },
            ),
            # things that are not interactions, and other hosts
            har_entry("GET", f"{G}/blocked", 0, None, error="net::ERR_BLOCKED_BY_CLIENT"),
            har_entry("GET", "https://cdn.example.com/app.js", 200, "console.log(1)"),
            har_entry("GET", "wss://graph.microsoft.com/socket", 101, None, _resourceType="websocket"),
        ],
    )
    out = tmp_path / "chrome.yaml"
    done = run_cli(["import", str(har), "-o", str(out)])
    assert done.returncode == 0, done.stderr
    assert "3 interaction(s)" in done.stdout
    assert "cdn.example.com (1)" in done.stdout and "--all-hosts" in done.stdout
    assert f"entry 4 (GET {G}/blocked): no response (net::ERR_BLOCKED_BY_CLIENT)" in done.stdout
    assert "entry 6 (GET wss://graph.microsoft.com/socket): a websocket" in done.stdout
    text = out.read_text()
    assert_no_secret(text, done.stdout)
    assert ":authority" not in text and "!!binary" in text

    proxy = start_cli("replay", str(out))
    s = session(proxy.url, proxy.ca)
    r = s.get(f"{G}/print/tasks/1")
    assert r.json() == task and "content-encoding" not in r.headers
    assert s.get("https://api.box.com/2.0/files/12345/content").content == bytes(range(256))
    r = s.post("https://api.box.com/oauth2/token", data={"grant_type": "client_credentials", "client_secret": "other"})
    assert r.json() == {"access_token": "REDACTED-access_token-1"}


def test_dev_proxy_har_with_redacted_headers_and_no_response_bodies(tmp_path, start_cli):
    # Dev Proxy's HarGeneratorPlugin: sensitive headers as "REDACTED", bodies only with includeResponse
    no_body = har_entry(
        "GET",
        "https://api.box.com/2.0/tasks/11446498",
        200,
        None,
        [("Content-Type", "application/json"), ("Set-Cookie", "REDACTED")],
        [("Authorization", "REDACTED")],
    )
    no_body["response"]["content"] = {"size": 417, "mimeType": "application/json", "text": None}
    har = har_file(
        tmp_path / "devproxy.har",
        [
            no_body,
            har_entry(
                "GET",
                "https://api.box.com/2.0/files/12345/tasks",
                200,
                '{"total_count": 0, "entries": []}',
                [("Content-Type", "application/json")],
                [("Authorization", "REDACTED")],
            ),
        ],
        creator="DevProxy",
    )
    out = tmp_path / "devproxy.yaml"
    done = run_cli(["import", str(har), "-o", str(out), "--force"])
    assert done.returncode == 0, done.stderr
    assert "2 interaction(s), 0 value(s) redacted" in done.stdout  # Dev Proxy's REDACTED stays as it is
    assert "1 response body(ies) were not in the file" in done.stdout
    assert "Authorization:\n      - REDACTED\n" in out.read_text()
    proxy = start_cli("replay", str(out))
    s = session(proxy.url, proxy.ca)
    assert s.get("https://api.box.com/2.0/files/12345/tasks").json() == {"total_count": 0, "entries": []}
    r = s.get("https://api.box.com/2.0/tasks/11446498")
    assert r.status_code == 200 and r.content == b""


def test_import_errors_name_the_file_and_line_and_keep_existing_cassettes(tmp_path):
    broken = tmp_path / "broken.har"
    broken.write_text('{"log": {"entries": [\n  {"request": }\n]}}')
    out = tmp_path / "out.yaml"
    done = run_cli(["import", str(broken), "-o", str(out)])
    assert done.returncode == 2 and f"{broken}:2: invalid JSON" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()

    empty = tmp_path / "empty.har"
    empty.write_bytes(b"")
    done = run_cli(["import", str(empty), "-o", str(out)])
    assert done.returncode == 2 and f"{empty}: empty file" in done.stderr

    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a flow file")
    done = run_cli(["import", str(junk), "-o", str(out)])
    assert done.returncode == 2 and "not a mitmproxy flow file or HAR file" in done.stderr

    out.write_text("interactions: []\nversion: 1\n")
    good = har_file(tmp_path / "good.har", [har_entry("GET", f"{G}/me", 200, "{}")])
    done = run_cli(["import", str(good), "-o", str(out)])
    assert done.returncode == 2 and "already exists" in done.stderr and "--append" in done.stderr
    assert out.read_text() == "interactions: []\nversion: 1\n"
    for _ in range(2):
        assert run_cli(["import", str(good), "-o", str(out), "--append"]).returncode == 0
    assert len(cassette.load(out)) == 2
