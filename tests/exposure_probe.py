"""Run inside a network namespace whose loopback also holds 10.9.8.7, a non-loopback address.

A client connecting to 10.9.8.7 is not a loopback client: this is how the tests see what a remote
caller gets without sending anything off this machine. Prints one JSON line; test_exposure.py
runs it under `unshare -rn`.
"""

import json
import sys
import tempfile
from pathlib import Path

import requests
from helpers import AUTH, CliProxy

REMOTE = "10.9.8.7"
BOX_TASK = "https://api.box.com/2.0/tasks/11446498"
seen = {}


def port_of(proxy: CliProxy) -> str:
    return proxy.url.rsplit(":", 1)[1]


def get(url, proxy_url, **kw):
    session = requests.Session()
    session.trust_env = False
    try:
        return session.get(url, proxies={"http": proxy_url, "https": proxy_url}, timeout=10, **kw).status_code
    except requests.exceptions.ProxyError as e:
        return "407" if "407" in str(e) else f"proxy error: {e}"


def local_only_server(host: str) -> str:
    """A service of this host that listens on `host` only: what a remote caller must not reach."""
    import http.server
    import threading

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"local")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer((host, 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://{host}:{server.server_address[1]}/"


with tempfile.TemporaryDirectory() as tmp:
    on_loopback, on_own = local_only_server("127.0.0.1"), local_only_server(REMOTE)
    proxy = CliProxy(["demo", "--host", "0.0.0.0", "--allow-remote", "--control-token", "sesame"], Path(tmp))
    try:
        remote, local = f"http://{REMOTE}:{port_of(proxy)}", f"http://127.0.0.1:{port_of(proxy)}"
        seen["control from remote, no token"] = get("http://tapeproxy/scenarios", remote)
        seen["control from remote, wrong token"] = get(
            "http://tapeproxy/scenarios", remote, headers={"X-Tapeproxy-Token": "open"}
        )
        seen["control from remote, token"] = get(
            "http://tapeproxy/scenarios", remote, headers={"X-Tapeproxy-Token": "sesame"}
        )
        seen["control from loopback"] = get("http://tapeproxy/scenarios", local)
        seen["api from remote, allowed"] = get(BOX_TASK, remote, verify=proxy.ca, headers=AUTH)
        seen["host's loopback service from remote"] = get(on_loopback, remote)
        seen["host's own-address service from remote"] = get(on_own, remote)
        seen["host's loopback service from loopback"] = get(on_loopback, local)
    finally:
        proxy.stop()
    proxy = CliProxy(["demo", "--host", "0.0.0.0", "--allow-remote", "--allow-local-targets"], Path(tmp))
    try:
        seen["host's loopback service from remote, allowed"] = get(on_loopback, f"http://{REMOTE}:{port_of(proxy)}")
    finally:
        proxy.stop()
    proxy = CliProxy(["demo", "--host", "0.0.0.0", "--proxy-auth", "tester:s3cret"], Path(tmp))
    try:
        port = port_of(proxy)
        seen["api from remote, no credentials"] = get(
            BOX_TASK, f"http://{REMOTE}:{port}", verify=proxy.ca, headers=AUTH
        )
        seen["api from remote, credentials"] = get(
            BOX_TASK, f"http://tester:s3cret@{REMOTE}:{port}", verify=proxy.ca, headers=AUTH
        )
    finally:
        code = proxy.stop()
print(json.dumps(seen))
sys.exit(code)
