"""mitmproxy users load the same addons with `mitmdump -s` / `mitmweb -s` and `--set` options."""

import socket
import sys
from pathlib import Path

import pytest
import requests
from helpers import BOX_TASK_URL, GRAPH_TASK_URL, ROOT
from process import ReadyProcess

SCRIPT = ROOT / "addons" / "mitm_addon.py"


LISTENING = r"proxy listening at (?:\*|127\.0\.0\.1):(\d+)"


def start(tool: str, confdir: Path, *extra: str, script: Path = SCRIPT) -> tuple[ReadyProcess, str]:
    exe = Path(sys.executable).parent / tool
    command = [str(exe), "-s", str(script), "--listen-host", "127.0.0.1", "--listen-port", "0"]
    proc = ReadyProcess([*command, "--set", f"confdir={confdir}", *extra], LISTENING)
    assert proc.match is not None
    return proc, f"http://127.0.0.1:{proc.match.group(1)}"


@pytest.mark.parametrize(
    "tool, extra",
    [
        ("mitmdump", ()),
        ("mitmweb", ("--set", "web_open_browser=false", "--set", "web_port=0")),
    ],
)
def test_mitm_tools_serve_cassettes_with_set_options(tool, extra, confdir):
    cassette = ROOT / "cassettes" / "graph-print-tasks.yaml"
    proc, url = start(
        tool,
        confdir,
        "--set",
        f"tapeproxy_cassettes={cassette}",
        "--set",
        "tapeproxy_miss_status=530",
        "--set",
        "tapeproxy_scenarios=box-throttle-once",
        *extra,
    )
    try:
        kw = {"proxies": {"https": url}, "verify": str(confdir / "mitmproxy-ca-cert.pem"), "timeout": 10}
        r = requests.get(GRAPH_TASK_URL, **kw)
        assert r.status_code == 200 and r.json()["status"]["state"] == "processing"
        r = requests.get(GRAPH_TASK_URL + "/missing", **kw)
        assert r.status_code == 530 and r.headers["X-Tapeproxy-Miss"] == "1"
        r = requests.get(BOX_TASK_URL, **kw)
        assert r.status_code == 429 and r.json()["code"] == "rate_limit_exceeded"
        control = requests.get("http://tapeproxy/scenarios", proxies={"http": url}, timeout=10).json()
        assert control["scenarios"][0]["name"] == "box-throttle-once"
        # Checked before stopping: mitmproxy's own shutdown may log a CancelledError.
        assert "Traceback" not in proc.output and "Addon error" not in proc.output
    finally:
        proc.stop()


def test_tapeproxy_web_shows_what_served_each_flow_in_a_column_and_says_what_demo_says(start_cli):
    from urllib.parse import urlsplit, urlunsplit

    from helpers import AUTH

    proxy = start_cli("web", "--web-port", "0", "--no-browser")
    assert proxy.banner.startswith(f"tapeproxy web: proxy {proxy.url} | CA {proxy.ca} | control http://127.0.0.1:")
    web = proxy.banner.split(" | web ", 1)[1].split()[0]
    kw = {"proxies": {"https": proxy.url}, "verify": proxy.ca, "timeout": 10, "headers": AUTH}
    assert requests.get(BOX_TASK_URL, **kw).status_code == 200
    assert requests.get("https://api.box.com/2.0/collections", **kw).status_code == 200  # from the spec
    assert requests.get("https://upload.box.com/api/2.0/users/me", **kw).status_code == 404  # a miss
    base = urlsplit(web)
    direct = {"timeout": 10, "proxies": {"http": None, "https": None}}
    columns = requests.get(urlunsplit(base._replace(path="/options")), **direct).json()["web_columns"]["value"]
    assert "comment" in columns  # the flow list's column of what served each flow
    flows = requests.get(urlunsplit(base._replace(path="/flows")), **direct).json()
    comments = {f["request"]["path"]: (f["comment"], f["marked"]) for f in flows}
    assert comments["/2.0/tasks/11446498"][0] == "tapeproxy: simulation GET /2.0/tasks/11446498"
    assert comments["/2.0/collections"][0] == (
        "tapeproxy: spec: Box GET /collections (generated from the official spec, not recorded)"
    )
    miss = comments["/api/2.0/users/me"]
    assert miss[0].startswith("tapeproxy: MISS:") and miss[1]
    assert proxy.stop() == 0, proxy.output  # SIGTERM stops it cleanly, as the README promises
    assert "tapeproxy web: summary" in proxy.output
    assert "tapeproxy web: stopped; 1 request(s) missed" in proxy.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", base.port))  # its port is free again
