"""Property-based: odd requests (methods, encodings, huge headers, broken JSON, non-UTF-8 and 10 MB
bodies) through running proxies in replay, demo and scenario modes. tapeproxy never fails inside a
hook (no internal-error answer, nothing in the log), and nothing is forwarded upstream."""

import socket
import ssl
from http.client import HTTPResponse

import pytest
from helpers import ROOT, CliProxy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HOSTS = ["graph.microsoft.com", "api.box.com"]
CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/json; charset=latin-1",
]
TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
MODES = {
    "replay": ["replay", str(ROOT / "cassettes")],
    "demo": ["demo"],
    "scenario": ["demo", "--scenario", "graph-throttle-once", "--scenario", "box-server-errors"],
}


@pytest.fixture(scope="module")
def proxies(confdir):
    started = {mode: CliProxy([*args, "--quiet"], confdir) for mode, args in MODES.items()}
    yield started
    for proxy in started.values():
        proxy.stop()


def exchange(proxy: CliProxy, host: str, raw: bytes):
    """raw (one HTTP/1.1 request) through the proxy's TLS tunnel to host: (status, headers) or None."""
    address = proxy.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((address[0], int(address[1])), timeout=30)
    try:
        sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        tls = ssl.create_default_context(cafile=proxy.ca).wrap_socket(sock, server_hostname=host)
        tls.sendall(raw)
        response = HTTPResponse(tls, method=raw.split(b" ", 1)[0].decode("latin-1"))
        try:
            response.begin()
        except (ConnectionError, OSError, ValueError):
            return None  # the proxy closed the connection: its answer to a request it cannot parse
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        sock.close()


segment = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/?# \r\n"), max_size=12).map(
        lambda s: "".join(c if c.isascii() and c.isprintable() else "".join(f"%{b:02X}" for b in c.encode()) for c in s)
    ),
    st.sampled_from(
        [
            "..",
            ".",
            "%00",
            "%2F",
            "%E9",
            "%",
            "%zz",
            "$batch",
            "tasks",
            "taskDefinitions",
            "2.0",
            "v1.0",
            "{id}",
            "x" * 3000,
        ]
    ),
)
methods = st.one_of(
    st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND", "get"]),
    st.text(alphabet=TOKEN, min_size=1, max_size=12),
)
bodies = st.one_of(
    st.just(b""),
    st.binary(max_size=3000),
    st.sampled_from(
        [
            b'{"status": {"state": "completed"',
            b'{"a": 1}}',
            b"[1, 2",
            b'{"\xff": "\xfe"}',
            b'{"status": {"state": 5}}',
            b"\xef\xbb\xbf{}",
            b"null",
            b'"' + b"x" * 5000,
        ]
    ),
)
headers = st.lists(
    st.tuples(
        st.text(alphabet=TOKEN, min_size=1, max_size=20),
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    ),
    max_size=5,
)


@st.composite
def odd_requests(draw):
    host = draw(st.sampled_from(HOSTS))
    path = "/" + "/".join(draw(st.lists(segment, max_size=7)))
    if draw(st.booleans()):
        path += "?" + draw(st.text(alphabet=TOKEN + "=&%", max_size=40))
    body = draw(bodies)
    lines = [f"{draw(methods)} {path} HTTP/1.1", f"Host: {host}", "Authorization: Bearer odd"]
    lines += [f"Content-Type: {draw(st.sampled_from(CONTENT_TYPES))}"]
    lines += [f"{k}: {v}" for k, v in draw(headers)]
    if draw(st.integers(0, 9)) == 0:
        lines.append("X-Huge: " + "h" * 30_000)
    lines.append(f"Content-Length: {len(body)}")
    return host, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _assert_meant(mode: str, proxy: CliProxy, answer) -> None:
    if answer is not None:
        status, hdrs = answer
        assert "X-Tapeproxy-Error" not in hdrs, f"{mode}: internal error answer {status} {hdrs}"
    for bad in ("Traceback", "internal error", "addon error", "refused to connect"):
        assert bad not in proxy.output, f"{mode}: {bad!r} in the log:\n{proxy.output[-3000:]}"


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")  # the 30 KB header's repr
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(request=odd_requests())
def test_odd_requests_get_answers_tapeproxy_meant(proxies, request):
    host, raw = request
    for mode, proxy in proxies.items():
        _assert_meant(mode, proxy, exchange(proxy, host, raw))


@pytest.mark.parametrize(
    "body", [b'{"displayName": "' + b"x" * (10 * 2**20) + b'"}', b'{"displayName": "' + b"\xff" * (10 * 2**20)]
)
def test_ten_megabyte_bodies(proxies, body):
    for mode, proxy in proxies.items():
        for host, path in (("graph.microsoft.com", "/v1.0/print/taskDefinitions"), ("api.box.com", "/2.0/tasks")):
            raw = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer odd\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            answer = exchange(proxy, host, raw)
            assert answer is not None, (mode, path)  # an HTTP answer (the demo may even create it), not a drop
            _assert_meant(mode, proxy, answer)
