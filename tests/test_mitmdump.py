"""mitmproxy users load the same addons with `mitmdump -s` / `mitmweb -s` and `--set` options."""

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from helpers import BOX_TASK_URL, GRAPH_TASK_URL, ROOT

SCRIPT = ROOT / "addons" / "mitm_addon.py"


def start(tool: str, confdir: Path, *extra: str, script: Path = SCRIPT) -> tuple[subprocess.Popen, str, list[str]]:
    exe = Path(sys.executable).parent / tool
    proc = subprocess.Popen(
        [
            str(exe),
            "-s",
            str(script),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            "0",
            "--set",
            f"confdir={confdir}",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()
    end = time.monotonic() + 30
    while time.monotonic() < end:
        found = re.search(r"proxy listening at (?:\*|127\.0\.0\.1):(\d+)", "".join(lines))
        if found:
            return proc, f"http://127.0.0.1:{found.group(1)}", lines
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{tool} did not start:\n" + "".join(lines))


@pytest.mark.parametrize(
    "tool, extra",
    [
        ("mitmdump", ()),
        ("mitmweb", ("--set", "web_open_browser=false", "--set", "web_port=0")),
    ],
)
def test_mitm_tools_serve_cassettes_with_set_options(tool, extra, confdir):
    cassette = ROOT / "cassettes" / "graph-print-tasks.yaml"
    proc, url, lines = start(
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
        assert "Traceback" not in "".join(lines) and "Addon error" not in "".join(lines)
    finally:
        proc.terminate()
        proc.wait(10)


def test_tapeproxy_web_shows_what_served_each_flow(confdir):
    from urllib.parse import urlsplit, urlunsplit

    from helpers import AUTH, tapeproxy_cmd

    with socket.socket() as s:  # mitmweb logs "port 0" as it is: pick a free one here
        s.bind(("127.0.0.1", 0))
        web_port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            *tapeproxy_cmd(),
            "web",
            "--port",
            "0",
            "--web-port",
            str(web_port),
            "--no-browser",
            "--confdir",
            str(confdir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: [lines.append(line) for line in proc.stdout], daemon=True).start()
    try:
        end = time.monotonic() + 30
        proxy = web = None
        while time.monotonic() < end and not (proxy and web):
            text = "".join(lines)
            proxy = re.search(r"proxy listening at (?:\*|127\.0\.0\.1):(\d+)", text)
            web = re.search(r"Web server listening at (http://\S+)", text)
            time.sleep(0.1)
        assert proxy and web, "".join(lines)
        kw = {
            "proxies": {"https": f"http://127.0.0.1:{proxy.group(1)}"},
            "verify": str(confdir / "mitmproxy-ca-cert.pem"),
            "timeout": 10,
            "headers": AUTH,
        }
        assert requests.get(BOX_TASK_URL, **kw).status_code == 200
        assert requests.get("https://api.box.com/2.0/users/me", **kw).status_code == 404
        base = urlsplit(web.group(1))
        flows = requests.get(
            urlunsplit(base._replace(path="/flows")), timeout=10, proxies={"http": None, "https": None}
        ).json()
        comments = {f["request"]["path"]: (f["comment"], f["marked"]) for f in flows}
        assert comments["/2.0/tasks/11446498"][0] == "tapeproxy: simulation GET /2.0/tasks/11446498"
        assert comments["/2.0/users/me"][0].startswith("tapeproxy: MISS:") and comments["/2.0/users/me"][1]
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        assert children, "tapeproxy web runs mitmweb as a child"
        proc.terminate()
        assert proc.wait(15) == 0, "".join(lines)  # SIGTERM stops it cleanly, as the README promises
        assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "mitmweb was left running"
        with socket.socket() as s:
            s.bind(("127.0.0.1", web_port))  # its port is free again
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
