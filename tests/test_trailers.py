"""HTTP/1 chunked messages with trailer fields (issue 15, item 8). mitmproxy 11 raises
NotImplementedError on them and drops the connection without an answer; tapeproxy answers."""

import http.server
import os
import shutil
import subprocess

import pytest
import requests
import yaml
from helpers import LocalHTTPS

NODE_PUT_WITH_TRAILER = r"""
const http = require('http');
const req = http.request(process.env.BASE + '/2.0/tasks/11446498', {method: 'PUT',
  headers: {'Content-Type': 'application/json', 'Authorization': 'Bearer trailers', 'Trailer': 'X-Checksum'}},
  res => { let body = ''; res.on('data', d => body += d); res.on('end', () => console.log(res.statusCode, body)); });
req.on('error', e => console.log('ERROR', e.message));
req.write('{"message": "sent with a trailer"}');
req.addTrailers({'X-Checksum': 'c0ffee'});
req.end();
"""


def test_a_request_with_a_trailer_is_answered(start_cli, tmp_path):
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    proxy = start_cli("demo", "--reverse", "https://api.box.com")
    script = tmp_path / "trailer.js"
    script.write_text(NODE_PUT_WITH_TRAILER)
    out = subprocess.run(
        ["node", str(script)], env={**os.environ, "BASE": proxy.url}, capture_output=True, text=True, timeout=60
    )
    status, _, body = out.stdout.strip().partition(" ")
    assert status == "200", out.stdout + out.stderr + proxy.output[-2000:]
    assert '"message": "sent with a trailer"' in body
    proxy.stop()
    assert "dropped HTTP/1 trailer field(s) x-checksum" in proxy.output
    assert "Traceback" not in proxy.output and "crashed" not in proxy.output


class TrailingUpstream(http.server.BaseHTTPRequestHandler):
    """Answers in chunks with a trailer field, as a server computing a digest while it streams."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Trailer", "X-Checksum")
        self.end_headers()
        for piece in (b'{"entries": ', b"[1, 2, 3]}"):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        self.wfile.write(b"0\r\nX-Checksum: c0ffee\r\n\r\n")

    def log_message(self, *args):
        pass


def test_a_response_with_a_trailer_is_recorded(start_cli, tmp_path):
    up = LocalHTTPS(tmp_path, TrailingUpstream)
    cassette = tmp_path / "rec.yaml"
    try:
        proxy = start_cli(
            "record",
            "--cassette",
            str(cassette),
            "--upstream",
            f"api.box.com=https://127.0.0.1:{up.port}",
            "--upstream-ca",
            str(up.cert),
        )
        s = requests.Session()
        s.trust_env = False
        s.proxies, s.verify = {"https": proxy.url}, proxy.ca
        r = s.get("https://api.box.com/2.0/folders/0/items", timeout=10)
        assert r.status_code == 200 and r.json() == {"entries": [1, 2, 3]}
        assert proxy.stop() == 0
        [recorded] = yaml.safe_load(cassette.read_text())["interactions"]
        assert recorded["response"]["body"]["string"] == '{"entries": [1, 2, 3]}'
    finally:
        up.close()
