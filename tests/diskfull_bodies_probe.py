"""Run inside a mount namespace (unshare -rm): record onto a 1 MiB tmpfs with --body-files while a
2 MiB download streams into a body file and fills it. Prints one JSON line with what the client got,
what the disk and the cassette held, and what the recorder said; test_body_files.py checks it."""

import hashlib
import http.server
import json
import random
import sys
import tempfile
from pathlib import Path

import requests
from helpers import CliProxy, LocalHTTPS

BIG = random.Random(7).randbytes(2 << 20)
mnt = Path(sys.argv[1])
target = mnt / "rec.yaml"


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body, kind = (
            (BIG, "application/octet-stream") if self.path.endswith("/big") else (b'{"ok": 1}', "application/json")
        )
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    api = LocalHTTPS(tmp, Upstream)
    proxy = CliProxy(
        [
            "record",
            "--cassette",
            str(target),
            "--upstream",
            f"api.box.com=https://127.0.0.1:{api.port}",
            "--upstream-ca",
            str(api.cert),
            "--max-body",
            "64k",
            "--body-files",
            "1k",
        ],
        tmp,
    )
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    seen: dict = {}
    try:
        seen["small"] = s.get("https://api.box.com/2.0/small", timeout=10).status_code
        big = s.get("https://api.box.com/2.0/big", timeout=30)
        seen["big_whole"] = (
            big.status_code == 200 and hashlib.sha256(big.content).digest() == hashlib.sha256(BIG).digest()
        )
        seen["said"] = proxy.wait_for("could not save GET https://api.box.com/2.0/big", 5)
        seen["small_after"] = s.get("https://api.box.com/2.0/small?again=1", timeout=10).status_code
    finally:  # also when a request fails: no proxy left running
        seen["exit"] = proxy.stop()
    bodies = mnt / "rec.yaml.bodies"
    seen["body_files"] = sorted(p.name for p in bodies.iterdir()) if bodies.exists() else []
    seen["recorded"] = [i["request"]["uri"] for i in __import__("yaml").safe_load(target.read_text())["interactions"]]
    seen["output"] = proxy.output
    api.close()
    print(json.dumps(seen))
