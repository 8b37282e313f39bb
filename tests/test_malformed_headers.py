"""Header lines no API accepts (bare CR, NUL, obs-fold continuation lines) get 400 in the API's
envelope and are never forwarded upstream while recording (issue 15, item 10). HTTP/1 parsers
disagree on them, which is how requests are smuggled past a proxy."""

import http.server
import json

import pytest
from helpers import LocalHTTPS
from test_limits import raw_exchange

BAD_LINES = {"bare CR": b"X-A: a\rb", "NUL": b"X-B: a\x00b", "folded line": b"X-C: a\r\n  continued"}


class Counting(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def do_GET(self):
        type(self).seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def _body(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


@pytest.mark.parametrize("what", sorted(BAD_LINES))
def test_malformed_header_lines_are_refused_not_forwarded(start_cli, tmp_path, what):
    Counting.seen = []
    up = LocalHTTPS(tmp_path, Counting)
    try:
        proxy = start_cli(
            "record",
            "--cassette",
            str(tmp_path / "rec.yaml"),
            "--upstream",
            f"api.box.com=https://127.0.0.1:{up.port}",
            "--upstream-ca",
            str(up.cert),
        )
        raw = (
            b"GET /2.0/folders/0 HTTP/1.1\r\nHost: api.box.com\r\n" + BAD_LINES[what] + b"\r\nConnection: close\r\n\r\n"
        )
        answer = raw_exchange(proxy, "api.box.com", raw)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
        assert _body(answer)["code"] == "bad_request" and what in _body(answer)["message"]
        good = raw_exchange(
            proxy, "api.box.com", b"GET /2.0/folders/1 HTTP/1.1\r\nHost: api.box.com\r\nConnection: close\r\n\r\n"
        )
        assert good.startswith(b"HTTP/1.1 200")
        assert Counting.seen == ["/2.0/folders/1"]
        proxy.stop()
        assert "Traceback" not in proxy.output
    finally:
        up.close()


def test_replay_refuses_them_in_the_graph_envelope(start_cli):
    proxy = start_cli("demo")
    raw = (
        b"GET /v1.0/print/taskDefinitions HTTP/1.1\r\nHost: graph.microsoft.com\r\n"
        + BAD_LINES["NUL"]
        + b"\r\nConnection: close\r\n\r\n"
    )
    answer = raw_exchange(proxy, "graph.microsoft.com", raw)
    assert answer.startswith(b"HTTP/1.1 400") and _body(answer)["error"]["code"] == "invalidRequest"
