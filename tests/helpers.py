"""Test helpers: run the real CLI, write cassettes, serve local HTTPS stand-ins."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import yaml
from process import ReadyProcess

ROOT = Path(__file__).resolve().parent.parent
GRAPH_DEF = "3203656e-6069-4e10-8147-d25290b00a3c"
GRAPH_TASK = "d036638b-1272-4bba-9227-732463823ed3"
GRAPH_TASK_URL = f"https://graph.microsoft.com/v1.0/print/taskDefinitions/{GRAPH_DEF}/tasks/{GRAPH_TASK}"
BOX_TASK_URL = "https://api.box.com/2.0/tasks/11446498"
# The simulation, like Graph and Box, answers 401 without a token; any opaque bearer token will do.
AUTH = {"Authorization": "Bearer offline-demo-token"}


# The start-up line: "tapeproxy demo: proxy http://...", or "... reverse proxy for URL at http://..."
BANNER = r"^tapeproxy .*( proxy http://| reverse proxy for )"


def tapeproxy_cmd() -> list[str]:
    """The installed console script, next to this interpreter."""
    script = Path(sys.executable).parent / "tapeproxy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tapeproxy.frontends.cli"]


class CliProxy(ReadyProcess):
    """`tapeproxy ...` in a subprocess, on a free port, ready once it prints its banner."""

    def __init__(self, args: list[str], confdir: Path, env: dict | None = None):
        self.args = args
        self.ca = str(confdir / "mitmproxy-ca-cert.pem")
        command = [*tapeproxy_cmd(), *args, "--port", "0", "--confdir", str(confdir)]
        super().__init__(command, BANNER, env=env or os.environ.copy())
        assert self.match is not None
        self.banner = self.match.string.rstrip("\n")
        self.url = "http://" + self.banner.split("http://", 1)[1].split()[0].rstrip(",")


def run_cli(args: list[str], timeout: float = 60, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*tapeproxy_cmd(), *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def interaction(
    method: str,
    uri: str,
    status: int = 200,
    body=None,
    req_body=None,
    headers=None,
    req_headers=None,
    reason: str = "OK",
) -> dict:
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers = {"Content-Type": ["application/json"], **(headers or {})}
    return {
        "request": {"body": req_body, "headers": req_headers or {}, "method": method, "uri": uri},
        "response": {
            "status": {"code": status, "message": reason},
            "headers": headers or {},
            "body": {"string": body if body is not None else ""},
        },
    }


def write_cassette(path: Path, interactions: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"interactions": interactions, "version": 1}, sort_keys=False))
    return path


# --- a local HTTPS server with its own certificate, counting the connections it accepts ---


def make_cert(directory: Path, name: str = "127.0.0.1") -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(name)), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "upstream-cert.pem", directory / "upstream-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class LocalHTTPS:
    """A stand-in upstream on 127.0.0.1 that answers 200 'upstream' and counts accepted connections."""

    def __init__(self, directory: Path, handler=None):
        self.cert, key = make_cert(directory)
        self.connections = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"upstream"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_PATCH = do_POST = do_PUT = do_GET

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = super().get_request()
                outer.connections += 1
                return sock, addr

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.server = Server(("127.0.0.1", 0), handler or Handler)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True, do_handshake_on_connect=False)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SECRETS = {
    "bearer": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhcHAifQ.c2VjcmV0LXNpZ25hdHVyZS0xMjM0NQ",
    "client_secret": "Qx8~client-secret-value~9aZ",
    "access_token": "eyJ0eXAiOiJKV1QifQ.access-token-payload.sig-777",
    "refresh_token": "M.R3_BAY.refresh-token-value-888",
    "cookie": "session=cookie-secret-999",
    "set_cookie": "box_visitor=set-cookie-secret-111",
}


BAD_GZIP = b"\x1f\x8b\x08\x00 truncated, not gzip \xff\x00"


class FakeApi(http.server.BaseHTTPRequestHandler):
    """A stand-in for Graph and Box: sequences, echoes, gzip, binary, cookies and a token endpoint."""

    protocol_version = "HTTP/1.1"
    counter = 0

    def _send(self, status, body: bytes, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.endswith("/seq"):
            type(self).counter += 1
            return self._send(
                200, json.dumps({"n": type(self).counter}).encode(), extra=[("request-id", str(type(self).counter))]
            )
        if path.endswith("/gzip"):
            import gzip

            return self._send(
                200,
                gzip.compress(json.dumps({"compressed": True, "host": self.headers["Host"]}).encode()),
                extra=[("Content-Encoding", "gzip")],
            )
        if path.endswith("/badgzip"):  # says gzip, is not: a broken server or middlebox
            return self._send(200, BAD_GZIP, extra=[("Content-Encoding", "gzip")])
        if path.endswith("/binary"):
            return self._send(200, bytes(range(256)), "application/octet-stream")
        self._send(
            200,
            json.dumps({"path": self.path, "host": self.headers["Host"]}).encode(),
            extra=[("Set-Cookie", SECRETS["set_cookie"]), ("Set-Cookie", "theme=dark")],
        )

    def do_POST(self):
        body = self._body()
        if self.path.endswith("/token"):
            return self._send(
                200,
                json.dumps(
                    {
                        "token_type": "Bearer",
                        "expires_in": 3600,
                        "access_token": SECRETS["access_token"],
                        "refresh_token": SECRETS["refresh_token"],
                    }
                ).encode(),
            )
        self._send(201, json.dumps({"echo": body.decode("utf-8", "replace")}).encode())

    do_PATCH = do_PUT = do_POST

    def log_message(self, *args):
        pass


def proxied_session(proxy, token: str = "demo"):
    """A requests session through the proxy, trusting its CA, with a bearer token (the environment's
    proxy settings not read)."""
    import requests

    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy.url, "http": proxy.url}
    s.verify = proxy.ca
    s.headers["Authorization"] = f"Bearer {token}"
    return s


def graph_client(proxy, token: str = "offline-demo-token"):
    """msgraph-sdk's GraphServiceClient through the proxy (default middleware, a static token), and its
    httpx transport to close."""
    import httpx
    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph.graph_request_adapter import options as sdk_default_options
    from msgraph_core import GraphClientFactory

    class StaticToken(AccessTokenProvider):
        async def get_authorization_token(self, uri, additional_authentication_context=None):
            return token

        def get_allowed_hosts_validator(self):
            return AllowedHostsValidator(["graph.microsoft.com"])

    transport = httpx.AsyncClient(
        proxy=proxy.url, verify=ssl.create_default_context(cafile=proxy.ca), trust_env=False, http2=True
    )
    client = GraphServiceClient(
        request_adapter=GraphRequestAdapter(
            BaseBearerTokenAuthenticationProvider(StaticToken()),
            # The SDK's own middleware options: among them the rewrite of its /users/me-token-to-replace to /me.
            client=GraphClientFactory.create_with_default_middleware(client=transport, options=sdk_default_options),
        )
    )
    return client, transport


# --- probe scripts run in namespaces of their own: no route out (-rn), a small disk (-rm) ---


def in_namespace(flag: str, setup: str, probe: str, *args: str, timeout: float = 180) -> dict:
    """Run tests/<probe> ARGS under `unshare -r<flag>` after the shell commands `setup`; the JSON its
    last line prints."""
    here = Path(__file__).parent
    script = f'{setup} && exec "{sys.executable}" {probe} {" ".join(args)}'
    out = subprocess.run(
        ["unshare", f"-r{flag}", "sh", "-c", script],
        cwd=here,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(here)},
        timeout=timeout,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def can_mount_tmpfs() -> bool:
    return (
        bool(shutil.which("unshare"))
        and subprocess.run(
            ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True
        ).returncode
        == 0
    )


def on_small_disk(probe: str, size: str, tmp_path: Path) -> dict:
    """Run tests/<probe> under `unshare -rm` with a tmpfs of `size` mounted at its one argument; the
    JSON its last line prints."""
    import pytest

    if not can_mount_tmpfs():
        pytest.skip("needs unprivileged user+mount namespaces (unshare -rm)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    seen = in_namespace("m", f'mount -t tmpfs -o size={size} tmpfs "{mnt}"', probe, f'"{mnt}"')
    return {**seen, "mnt": str(mnt)}


# --- the official specs some tests check against (not shipped: the package ships what derive.py
# makes of them) ---

SPECS = Path(os.environ.get("TAPEPROXY_SPECS") or ROOT.parent / "shared" / "specs")
SPEC_FILES = {
    "box-openapi.json": "Box's OpenAPI (openapi.json of github.com/box/box-openapi)",
    "graph-v1.0-csdl.xml": "Graph's v1.0 CSDL (schemas/ of github.com/microsoftgraph/msgraph-metadata)",
    "graph-permissions.json": "Graph's permissions reference (permissions/new/permissions.json of "
    "github.com/microsoftgraph/microsoft-graph-devx-content)",
}


def needs_spec(*names: str):
    """Skip unless these spec files are in SPECS (../shared/specs beside the checkout, or $TAPEPROXY_SPECS)."""
    import pytest

    missing = [n for n in names if not (SPECS / n).is_file()]
    what = "; ".join(f"{n}: {SPEC_FILES[n]}" for n in missing)
    return pytest.mark.skipif(
        bool(missing), reason=f"needs {what}, in {SPECS} (or set TAPEPROXY_SPECS to the folder holding it)"
    )


def acknowledged_until_killed(proxy, clients: int, want: int, change, session) -> list[str]:
    """`clients` threads make changes at once, each `change(s, n, i)` returning what the proxy
    acknowledged (None: it did not); once `want` are acknowledged (or 20 s), the proxy is killed
    with SIGKILL. What was acknowledged before the kill is returned."""
    import signal
    import time

    import requests

    acknowledged: list[str] = []
    stop = threading.Event()

    def client(n: int) -> None:
        s, i = session(proxy), 0
        while not stop.is_set():
            try:
                done = change(s, n, i)
            except requests.RequestException:
                return
            if done is not None:
                acknowledged.append(done)
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acknowledged) < want and time.monotonic() < deadline:
        time.sleep(0.02)
    proxy.stop(signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join(10)
    return list(acknowledged)
