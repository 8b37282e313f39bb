"""The control API as a test harness, for tests in any language: the control port in every mode,
health, the request journal, recording at run time; start-up a script relies on (--ready-file,
start --detach / status / logs / stop, --log-format json); --block-unknown-hosts."""

import json
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from helpers import SECRETS, interaction, run_cli, tapeproxy_cmd, write_cassette

from tapeproxy.core import cassette

TASK = "https://api.box.com/2.0/tasks/11446498"


def curl(*args: str) -> dict:
    """The control API as a shell script calls it: curl, no proxy, JSON back."""
    out = subprocess.run(["curl", "-sS", "--noproxy", "*", *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def ready_info(path: Path, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        assert time.monotonic() < deadline, f"no ready file {path}"
        time.sleep(0.05)
    return json.loads(path.read_text())


def session(proxy_url: str, ca: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy_url, "http": proxy_url}
    s.verify = ca
    s.headers["Authorization"] = f"Bearer {SECRETS['bearer']}"
    return s


def test_reverse_mode_has_a_control_port_that_ctl_and_curl_reach_through_the_ready_file(start_cli, tmp_path):
    ready = tmp_path / "ready.json"
    proxy = start_cli("demo", "--reverse", "https://api.box.com", "--ready-file", str(ready))
    info = ready_info(ready)
    assert info["proxy"] is None and info["reverse"][0]["target"] == "https://api.box.com"
    assert info["ca"] == proxy.ca and info["control"].startswith("http://127.0.0.1:") and info["version"]
    base = info["reverse"][0]["url"]
    r = requests.get(f"{base}/2.0/tasks/11446498", headers={"Authorization": "Bearer demo"}, timeout=10)
    assert r.status_code == 200 and r.json()["id"] == "11446498"

    health = curl(f"{info['control']}/health")
    head = subprocess.run(["curl", "-sSI", f"{info['control']}/ui"], capture_output=True, text=True, timeout=30).stdout
    assert "X-Frame-Options: DENY" in head and "frame-ancestors 'none'" in head  # no other site frames it
    port = int(base.rsplit(":", 1)[1])
    assert health["ready"] is True and health["mode"] == ["reverse:https://api.box.com@127.0.0.1:0"]
    assert health["listening"] == [{"mode": "reverse:https://api.box.com@127.0.0.1:0", "address": ["127.0.0.1", port]}]
    assert "api.box.com" in health["intercepted_hosts"] and health["requests"] == 1
    listed = run_cli(["ctl", "requests", "--ready-file", str(ready)])
    assert listed.returncode == 0, listed.stderr
    assert "GET https://api.box.com/2.0/tasks/11446498 -> 200 simulation" in listed.stdout
    said = run_cli(["ctl", "health", "--ready-file", str(ready)])
    assert said.returncode == 0 and f"control: {info['control']}" in said.stdout
    assert proxy.stop() == 0
    assert not ready.exists()  # a ready file never outlives its process


def test_the_journal_lists_filters_shows_counts_explains_misses_and_forgets(start_cli, tmp_path):
    tape = write_cassette(
        tmp_path / "box.yaml",
        [interaction("GET", "https://api.box.com/2.0/tasks/11446498?fields=id", body={"id": "11446498"})],
    )
    ready = tmp_path / "ready.json"
    proxy = start_cli("replay", str(tape), "--ready-file", str(ready), "--journal-size", "3")
    control = ready_info(ready)["control"]
    s = session(proxy.url, proxy.ca)
    s.headers["Cookie"] = SECRETS["cookie"]
    assert s.get(f"{TASK}?fields=id").status_code == 200
    assert s.get(f"{TASK}?fields=name").status_code == 404  # a miss: the query differs
    assert s.post(f"{TASK}/assignments", json={"secret": "in the body"}).status_code == 404

    everything = curl(f"{control}/requests")
    assert [(r["id"], r["method"], r["status"], r["source"]) for r in everything["requests"]] == [
        (1, "GET", 200, "cassette"),
        (2, "GET", 404, "miss"),
        (3, "POST", 404, "miss"),
    ]
    assert curl(f"{control}/requests?status=4xx&method=GET")["matched"] == 1
    assert [r["id"] for r in curl(f"{control}/requests?since=1&limit=1")["requests"]] == [3]
    assert curl(f"{control}/requests?path=/2.0/tasks/*&source=cassette")["matched"] == 1
    assert curl(f"{control}/requests?host=API.BOX.COM")["matched"] == 3

    unmatched = curl(f"{control}/requests/unmatched")["requests"]
    assert [u["id"] for u in unmatched] == [2, 3]
    assert "box.yaml #1" in unmatched[0]["miss"]["closest"]
    assert any("query" in d for d in unmatched[0]["miss"]["differences"]), unmatched[0]

    detail = curl(f"{control}/requests/3")
    assert detail["request"]["body"]["text"] == '{"secret": "in the body"}'
    assert detail["response"]["body"]["text"] and detail["response"]["headers"]
    assert all(secret.split("=")[-1] not in json.dumps(detail) for secret in SECRETS.values())  # placeholders

    count = ["-X", "POST", "-H", "Content-Type: application/json", f"{control}/requests/count"]
    assert curl(*count, "-d", '{"method": "GET", "path": "/2.0/tasks/*"}') == {"count": 2}
    assert curl(*count, "-d", '{"query": {"fields": "id"}}') == {"count": 1}
    assert curl(*count, "-d", '{"headers": {"cookie": "*"}, "body": "secret"}') == {"count": 1}
    refused = curl(*count, "-d", '{"verb": "GET"}')
    assert "unknown filter(s) verb" in refused["error"]

    assert s.get(f"{TASK}?fields=id").status_code == 200  # a fourth: the oldest of three falls out
    kept = curl(f"{control}/requests")
    assert [r["id"] for r in kept["requests"]] == [2, 3, 4] and kept["total"] == 4
    assert "keeps the newest 3" in curl(f"{control}/requests/1")["error"]
    assert curl("-X", "DELETE", f"{control}/requests") == {"cleared": 3}
    assert curl(f"{control}/requests")["requests"] == []


def test_a_test_in_node_asks_the_journal_what_tapeproxy_received(start_cli, tmp_path):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    ready = tmp_path / "ready.json"
    proxy = start_cli("demo", "--ready-file", str(ready))
    control = ready_info(ready)["control"]
    s = session(proxy.url, proxy.ca)
    for _ in range(2):
        assert s.get(TASK).status_code == 200
    script = (
        "const [control] = process.argv.slice(1);"
        "const matcher = JSON.stringify({method: 'GET', path: '/2.0/tasks/*'});"
        "fetch(control + '/requests/count', {method: 'POST', body: matcher}).then(r => r.json())"
        ".then(j => { if (j.count !== 2) { console.error(j); process.exit(1); } console.log(j.count); })"
    )
    out = subprocess.run([node, "-e", script, control], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "2", out.stderr


def test_recording_starts_and_stops_at_run_time_confined_to_its_folders(start_cli, api, tmp_path):
    tapes = tmp_path / "tapes"
    tapes.mkdir()
    ready = tmp_path / "ready.json"
    local = f"https://127.0.0.1:{api.port}"
    proxy = start_cli(
        "replay",
        str(write_cassette(tmp_path / "empty.yaml", [])),
        "--record-dir",
        str(tapes),
        "--upstream-ca",
        str(api.cert),
        "--upstream",
        f"graph.microsoft.com={local}",  # kept for recording started later
        "--ready-file",
        str(ready),
    )
    control = ready_info(ready)["control"]
    s = session(proxy.url, proxy.ca)
    g = "https://graph.microsoft.com/v1.0"
    assert s.get(f"{g}/seq").status_code == 404  # offline: a miss, nothing sent

    post = ["-X", "POST", "-H", "Content-Type: application/json", f"{control}/recording", "-d"]
    for where, why in {
        "/etc/evil.yaml": "not in a folder the control API may record to",
        str(tapes / ".." / "out.yaml"): "not in a folder the control API may record to",
        "notes.txt": "a cassette is a .yaml file",
    }.items():
        assert why in curl(*post, json.dumps({"cassette": where}))["error"]
    started = curl(*post, json.dumps({"cassette": "seq.yaml"}))
    assert started["upstreams"] == [f"graph.microsoft.com={local}"]
    assert started["recording"] is True and started["cassette"] == str(tapes / "seq.yaml")
    assert "already recording" in curl(*post, json.dumps({"cassette": "other.yaml"}))["error"]
    assert [s.get(f"{g}/seq").json() for _ in range(2)] == [{"n": 1}, {"n": 2}]
    assert run_cli(["ctl", "record", "status", "--ready-file", str(ready)]).stdout.startswith(
        f"recording (new_episodes) to {tapes / 'seq.yaml'}: 2 recorded"
    )

    stopped = run_cli(["ctl", "record", "stop", "--ready-file", str(ready), "--json"])
    assert stopped.returncode == 0, stopped.stderr
    said = json.loads(stopped.stdout)
    assert said == {
        "stopped": True,
        "cassette": str(tapes / "seq.yaml"),
        "recorded": 2,
        "saved": 2,
        "redacted": said["redacted"],
        "replaying": True,
    }
    assert said["redacted"] >= 2  # the bearer token of each
    saved = cassette.load(tapes / "seq.yaml")
    assert [json.loads(i.response.body) for i in saved] == [{"n": 1}, {"n": 2}]
    api.close()  # offline again: what was recorded is replayed
    assert [s.get(f"{g}/seq").json() for _ in range(2)] == [{"n": 1}, {"n": 2}]
    assert "not recording" in curl("-X", "DELETE", f"{control}/recording")["error"]
    assert curl(f"{control}/recording")["upstreams"] == [f"graph.microsoft.com={local}"]  # as it was


def test_ready_file_and_json_log_lines_for_ci(confdir, tmp_path):
    ready = tmp_path / "ready.json"
    command = [*tapeproxy_cmd(), "demo", "--port", "0", "--confdir", str(confdir), "--log-format", "json"]
    child = subprocess.Popen(
        [*command, "--ready-file", str(ready)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        info = ready_info(ready)
        listening = json.loads(child.stdout.readline())
        assert (
            listening["event"] == "listening" and listening["proxy"] == info["proxy"] and listening["pid"] == child.pid
        )
        s = session(info["proxy"], info["ca"])
        assert s.get(TASK).status_code == 200
        line = json.loads(child.stdout.readline())
        assert {k: line[k] for k in ("event", "method", "url", "status", "source", "miss_reason")} == {
            "event": "request",
            "method": "GET",
            "url": TASK,
            "status": 200,
            "source": "simulation",
            "miss_reason": None,
        }
        assert isinstance(line["latency_ms"], int) and line["time"].endswith("Z")
    finally:
        child.send_signal(signal.SIGTERM)
        rest, log = child.communicate(timeout=30)
    stopped = [json.loads(x) for x in rest.splitlines()]  # stdout holds only JSON objects
    assert stopped[-1]["event"] == "stopped" and stopped[-1]["requests"] == 1 and child.returncode == 0
    assert "replaying" in log  # the log went to stderr
    assert not ready.exists()


def test_start_detach_status_logs_and_stop_for_a_ci_job(tmp_path):
    conf = str(tmp_path / "conf")
    started = run_cli(["start", "--detach", "--name", "ci", "demo", "--port", "0", "--confdir", conf])
    assert started.returncode == 0, started.stderr
    assert started.stdout.startswith("tapeproxy started 'ci' (pid ")
    ready_file = started.stdout.split("ready file ", 1)[1].split()[0]
    info = json.loads(Path(ready_file).read_text())
    again = run_cli(["start", "--detach", "--name", "ci", "demo", "--port", "0", "--confdir", conf])
    assert again.returncode == 2 and "named 'ci' is running already" in again.stderr

    env = run_cli(["env", "--ready-file", ready_file])
    assert f"export HTTPS_PROXY={info['proxy']}" in env.stdout
    assert session(info["proxy"], info["ca"]).get(TASK).status_code == 200
    status = run_cli(["status", "--confdir", conf])
    assert status.returncode == 0 and f"ci  pid {info['pid']}  demo  {info['proxy']}" in status.stdout
    assert "1 request(s)" in status.stdout
    logs = run_cli(["logs", "--name", "ci", "--confdir", conf])
    assert f"GET {TASK} -> 200 simulation" in logs.stdout

    stopped = run_cli(["stop", "--name", "ci", "--confdir", conf])
    assert stopped.returncode == 0, stopped.stderr
    assert f"tapeproxy 'ci' (pid {info['pid']}) stopped" in stopped.stdout
    assert "simulation  api.box.com" in stopped.stdout and "tapeproxy demo: stopped" in stopped.stdout
    assert run_cli(["status", "--name", "ci", "--confdir", conf]).returncode == 1
    assert "no tapeproxy named 'ci' is running" in run_cli(["stop", "--name", "ci", "--confdir", conf]).stderr


class Plain(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"local service\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Plain)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_block_unknown_hosts_refuses_with_the_host_and_the_option_and_allow_host_lets_one_through(
    start_cli, local_service, tmp_path
):
    proxy = start_cli("demo", "--block-unknown-hosts")
    s = session(proxy.url, proxy.ca)
    refused = s.get(local_service)
    assert refused.status_code == 403 and refused.headers["X-Tapeproxy-Blocked"] == "1"
    message = refused.json()["error"]["message"]
    assert "127.0.0.1 is not a host tapeproxy answers" in message and "--allow-host 127.0.0.1" in message
    tls = s.get("https://unknown.example/path")  # CONNECT: answered over TLS, never tunnelled
    assert tls.status_code == 403 and "unknown.example" in tls.json()["error"]["message"]
    assert s.get(TASK).status_code == 200  # what tapeproxy answers still is
    out = subprocess.run(
        ["curl", "-sS", "-x", proxy.url, "--cacert", proxy.ca, "https://unknown.example/"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "--block-unknown-hosts" in out.stdout
    proxy.stop()
    assert "tapeproxy BLOCKED GET https://unknown.example/path" in proxy.output
    assert "blocked" in proxy.output.split("summary", 1)[1]

    allowed = start_cli("demo", "--block-unknown-hosts", "--allow-host", "127.0.0.*")
    assert session(allowed.url, allowed.ca).get(local_service).text == "local service\n"


def test_the_ci_job_in_the_docs_runs_as_written(tmp_path):
    """docs/ci.md's steps, in bash as a runner would run them: the app's tests are a curl here,
    tapeproxy is installed already, and the cassette folder is one of this test's."""
    import os
    import re
    import sys

    import yaml

    text = (Path(__file__).parent.parent / "docs" / "ci.md").read_text()
    job = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    steps = [step["run"] for step in job["jobs"]["test"]["steps"] if "run" in step]
    tapes = tmp_path / "tests" / "cassettes"
    tapes.mkdir(parents=True)
    write_cassette(tapes / "box.yaml", [interaction("GET", "https://api.box.com/2.0/users/me", body={"id": "7"})])
    app_test = (
        'test "$(curl -sS -H "Authorization: Bearer demo" https://api.box.com/2.0/users/me)" = \'{"id": "7"}\'\n'
        "curl -sS https://graph.microsoft.com/v1.0/nowhere >/dev/null\n"  # a miss, for ctl and the report
        "test \"$(curl -s -o /dev/null -w '%{http_code}' https://unknown.example/)\" = 403\n"
    )
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    said = []
    for step in steps:
        script = step.replace("pip install tapeproxy\n", "").replace("npm test\n", app_test)
        out = subprocess.run(
            ["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode == 0, f"{step}\n{out.stdout}\n{out.stderr}"
        said.append(out.stdout)
    assert "GET https://graph.microsoft.com/v1.0/nowhere -> 404 miss" in said[2]
    assert "tapeproxy 'default' (pid " in said[3] and "stopped" in said[3]
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("# tapeproxy summary") and "| cassette | api.box.com | 1 |" in summary
    assert "| blocked | unknown.example | 1 |" in summary and "## Misses" in summary


def test_the_control_port_answers_hostile_input_in_bounds_and_stalls_no_one(start_cli, tmp_path):
    import socket

    ready = tmp_path / "ready.json"
    proxy = start_cli("demo", "--ready-file", str(ready))
    host, port = ready_info(ready)["control"].removeprefix("http://").split(":")

    def exchange(data: bytes) -> bytes:
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(data)
            return b"".join(iter(lambda: s.recv(65536), b""))

    stalled = socket.create_connection((host, int(port)), timeout=30)  # half a request, then nothing
    stalled.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        assert curl(f"http://{host}:{port}/health")["ready"] is True  # answered meanwhile
        assert exchange(b"GET /health HTTP/1.1\r\nX: " + b"a" * (70 << 10) + b"\r\n\r\n").startswith(b"HTTP/1.1 413 ")
        assert exchange(b"POST /scenarios HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").startswith(
            b"HTTP/1.1 411 "
        )
        assert exchange(b"POST /scenarios HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n").startswith(b"HTTP/1.1 413 ")
        assert exchange(b"\x16\x03\x01 not http\r\n\r\n").startswith(b"HTTP/1.1 400 ")
        rebound = exchange(b"GET /requests HTTP/1.1\r\nHost: evil.example:80\r\n\r\n")  # DNS rebinding
        assert rebound.startswith(b"HTTP/1.1 403 ") and b"not 'evil.example:80'" in rebound
    finally:
        stalled.close()
    assert proxy.stop() == 0
    assert "Traceback" not in proxy.output


def test_a_control_port_in_use_is_said_before_start_up(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(["demo", "--port", "0", "--control-port", str(port), "--confdir", str(tmp_path)])
    assert done.returncode == 2 and f"127.0.0.1:{port} is already in use" in done.stderr, done.stderr
