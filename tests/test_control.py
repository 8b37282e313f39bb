"""Runtime control: scenarios switched on and off while the proxy runs, by `tapeproxy ctl` and over HTTP."""

import os

import requests
from helpers import AUTH, BOX_TASK_URL, GRAPH_TASK_URL, run_cli


def get(proxy, url, **kw):
    s = requests.Session()
    s.trust_env = False
    s.headers.update(AUTH)
    return s.get(url, proxies={"https": proxy.url, "http": proxy.url}, verify=proxy.ca, timeout=10, **kw)


def ctl(proxy, *args):
    done = run_cli(["ctl", *args, "--proxy", proxy.url])
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_presenter_turns_an_outage_on_and_off(start_cli):
    proxy = start_cli("demo")
    assert get(proxy, GRAPH_TASK_URL).status_code == 200
    out = ctl(proxy, "use", "graph-service-unavailable")
    assert "graph-service-unavailable (state started)" in out
    r = get(proxy, GRAPH_TASK_URL)
    assert r.status_code == 503 and r.headers["Retry-After"] == "2"
    assert "matched 1, fired 1" in ctl(proxy, "status")
    ctl(proxy, "clear")
    assert get(proxy, GRAPH_TASK_URL).status_code == 200
    # add, reset and remove
    ctl(proxy, "add", "box-throttle-once")
    assert [get(proxy, BOX_TASK_URL).status_code for _ in range(2)] == [429, 200]
    ctl(proxy, "reset")
    assert get(proxy, BOX_TASK_URL).status_code == 429  # counters started again
    assert "no active scenarios" in ctl(proxy, "remove", "box-throttle-once")
    assert get(proxy, BOX_TASK_URL).status_code == 200


def test_control_api_over_http_and_its_errors(start_cli, tmp_path):
    proxy = start_cli("demo", "--scenario-dir", str(tmp_path))
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": proxy.url}
    posted = "name: posted\nrules:\n  - {match: {host: api.box.com}, error: not_found}\n"
    r = s.post("http://tapeproxy/scenarios", json={"yaml": posted})
    assert r.status_code == 200 and [x["name"] for x in r.json()["scenarios"]] == ["posted"]
    assert get(proxy, BOX_TASK_URL).status_code == 404
    r = s.post("http://tapeproxy/scenarios", json={"yaml": "rules:\n  - erorr: x\n"})
    assert r.status_code == 400 and "<posted scenario>:2: unknown key 'erorr'" in r.json()["error"]
    r = s.put("http://tapeproxy/scenarios", json={"scenarios": ["no-such-scenario"]})
    assert r.status_code == 400 and "built-in:" in r.json()["error"]
    assert s.get("http://tapeproxy/nothing").status_code == 404
    assert get(proxy, BOX_TASK_URL).status_code == 404  # a failed change leaves the active set alone

    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - error: throttle\n")
    done = run_cli(["ctl", "add", str(bad), "--proxy", proxy.url])
    assert done.returncode == 2 and f"{bad}:2: unknown error 'throttle'" in done.stderr


def test_ctl_without_a_proxy_says_so(tmp_path):
    done = run_cli(["ctl", "status", "--proxy", "http://127.0.0.1:9"])
    assert done.returncode == 2 and "cannot reach tapeproxy at http://127.0.0.1:9" in done.stderr


def test_use_keeps_the_counters_of_scenarios_that_stay(start_cli):
    proxy = start_cli("demo", "--scenario", "box-throttle-once")
    assert get(proxy, BOX_TASK_URL).status_code == 429
    ctl(proxy, "use", "box-throttle-once", "graph-throttle-once")  # box-throttle-once stays, reloaded
    assert get(proxy, BOX_TASK_URL).status_code == 200  # its first call per endpoint is spent
    assert get(proxy, GRAPH_TASK_URL).status_code == 429


def test_the_control_api_reads_only_what_it_was_allowed_to(start_cli, tmp_path):
    allowed = tmp_path / "scenarios"
    allowed.mkdir()
    (allowed / "secret.yaml").write_text("root:*:20228:0:99999:7:::\n")  # parses, but is no scenario
    (allowed / "link.yaml").symlink_to("/etc/passwd")
    (allowed / "big.yaml").write_text("# " + "x" * (2 << 20) + "\nrules: []\n")
    os.mkfifo(allowed / "fifo.yaml")
    (allowed / "ok.yaml").write_text("name: ok\nrules:\n  - {match: {host: api.box.com}, error: not_found}\n")
    (tmp_path / "elsewhere.yaml").write_text("name: elsewhere\nrules: []\n")
    proxy = start_cli("demo", "--scenario-dir", str(allowed), "--control-token", "t0k")
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"http": proxy.url}

    def post(body, **headers):
        return s.post("http://tapeproxy/scenarios", json=body, headers=headers, timeout=10)

    refused = {
        "/etc/passwd": "not in a folder the control API may read",
        "/dev/zero": "not in a folder the control API may read",
        str(tmp_path / "elsewhere.yaml"): "not in a folder the control API may read",
        str(allowed / "link.yaml"): "not in a folder the control API may read",  # it points outside
        str(allowed / "fifo.yaml"): "not a regular file",
        str(allowed / "big.yaml"): "larger than 1 MiB",
        "relative.yaml": "given by its absolute path",
        str(allowed / "secret.yaml"): "secret.yaml:1: not a valid scenario file (the proxy's log says why)",
    }
    for ref, why in refused.items():
        r = post({"scenario": ref})
        assert r.status_code == 400 and why in r.json()["error"], (ref, r.text)
        assert "root:" not in r.text and "20228" not in r.text, r.text  # nothing a file holds comes back
    r = post({"yaml": "name: inline\nrules:\n  - respond: {file: ok.yaml}\n"})
    assert r.status_code == 400 and "respond.file is not allowed in a scenario posted as YAML text" in r.text
    # a browser page (an Origin header) may not use it without the token, even from loopback
    assert post({"scenario": str(allowed / "ok.yaml")}, Origin="https://evil.example").status_code == 403
    r = post({"scenario": str(allowed / "ok.yaml")}, Origin="https://evil.example", **{"X-Tapeproxy-Token": "t0k"})
    assert r.status_code == 200 and [x["name"] for x in r.json()["scenarios"]] == ["ok"]
    assert get(proxy, BOX_TASK_URL).status_code == 404
