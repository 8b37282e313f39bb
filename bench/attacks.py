"""The hardening issue's attacks against a running tapeproxy: what each costs it, and what another
client sees meanwhile. Everything stays on loopback.

    python bench/attacks.py                    # this checkout
    python bench/attacks.py --tree /tmp/base   # another checkout (e.g. a worktree of an older commit)
    python bench/attacks.py --only upload,rapid-reset
    python bench/attacks.py --tree /tmp/base --only deep-path   # one of issue 27's items 1-7:
        # deep-path, big-miss, loop-work, sessions, versions, body-files, two-writers

Per attack it prints the outcome, the wall time, the proxy's peak RSS and the other client's
slowest answer (or how many of its requests failed). An attack that never ends is stopped at
--timeout and reported as such.

Each attack declares the proxy it runs against (`Attack.proxy`: `demo` unless it says otherwise;
a function of the attack's temp folder, so it can write a cassette or world there first), or
starts its own processes with `Lab.start` (issue 27's attacks that restart a proxy or run two);
the peak RSS is then the largest of those processes', and the attack's outcome says what another
client saw at each step.
"""

from __future__ import annotations

import argparse
import base64
import errno
import hashlib
import http.server
import json
import os
import re
import resource
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from attack_clients import MIB, Sized, chunks, cpu_seconds, rapid_reset  # noqa: E402
from helpers import LocalHTTPS, interaction, write_cassette  # noqa: E402
from process import ReadyProcess  # noqa: E402

BOX_TASK = "https://api.box.com/2.0/tasks/11446498"
BOX_API = "https://api.box.com/2.0"
BOX_UPLOAD = "https://upload.box.com/api/2.0/files"
GRAPH = "https://graph.microsoft.com/v1.0"
MB = 10**6


class Proxy:
    """`tapeproxy ARGS` of a given checkout, on a free port."""

    def __init__(self, tree: Path, work: Path, args: list[str], nofile: int | None = None) -> None:
        shim = work / "shim"
        if not shim.exists():
            shim.mkdir()
            (shim / "tapeproxy").symlink_to(tree / "addons")
        env = {**os.environ, "PYTHONPATH": str(shim), "HOME": str(work)}
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))) if nofile else None
        # the command line's module: tapeproxy.frontends.cli, or tapeproxy.cli in checkouts before issue 16
        cli = "tapeproxy.frontends.cli" if (tree / "addons" / "frontends").is_dir() else "tapeproxy.cli"
        command = [sys.executable, "-m", cli, *args, "--port", "0", "--confdir", str(work / "conf"), "--quiet"]
        self.server = ReadyProcess(command, r" proxy (http://\S+)", env=env, preexec_fn=limit)
        self.proc, self.lines = self.server.proc, self.server.lines
        assert self.server.match is not None
        self.url = self.server.match.group(1)
        self.ca = str(work / "conf" / "mitmproxy-ca-cert.pem")
        self.peak = 0.0
        self._sampling = True
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:  # VmHWM is lost with the process: sample it while it lives
        while self._sampling and self.proc.poll() is None:
            try:
                for line in open(f"/proc/{self.proc.pid}/status"):
                    if line.startswith("VmHWM:"):
                        self.peak = max(self.peak, int(line.split()[1]) / 1024)
            except OSError:
                return
            time.sleep(0.05)

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        s.proxies, s.verify = {"https": self.url}, self.ca
        s.headers["Authorization"] = "Bearer attacks"  # the simulation answers 401 without one
        return s

    def rss(self) -> float:
        """VmRSS now, in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> int:
        self._sampling = False
        return self.server.stop()


class Bystander:
    """Another client asking for a task every 50 ms while the attack runs."""

    def __init__(self, proxy: Proxy) -> None:
        self.latencies: list[float] = []
        self.failures = 0
        self._stop, self._ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, args=(proxy,), daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def _run(self, proxy: Proxy) -> None:
        s = proxy.session()
        try:  # the connection and its certificate first: not what is measured
            s.get(BOX_TASK, timeout=10)
        except requests.RequestException:
            s = proxy.session()
        self._ready.set()
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                ok = s.get(BOX_TASK, timeout=30).status_code == 200
            except requests.RequestException:
                ok = False
                s = proxy.session()
            self.latencies.append(time.monotonic() - began)
            self.failures += not ok
            time.sleep(0.05)

    def stop(self) -> str:
        self._stop.set()
        self._thread.join(35)
        if not self.latencies:
            return "no answer at all"
        return (
            f"{len(self.latencies) - self.failures}/{len(self.latencies)} answered, slowest {max(self.latencies):.2f} s"
        )

    @property
    def slowest(self) -> float:
        return max(self.latencies, default=0.0)


def _in_thread(fn, timeout: float):
    out: list = []
    t = threading.Thread(target=lambda: out.append(_guard(fn)), daemon=True)
    t.start()
    t.join(timeout)
    return out[0] if out else f"still running at {timeout:g} s"


def _guard(fn):
    try:
        return fn()
    except Exception as e:  # an attack's client failing is an outcome to report
        return f"{type(e).__name__}: {str(e)[:80]}"


def attack_upload(proxy: Proxy, size_mib: int) -> str:
    """Four uploads of size_mib to the Box API, two with Content-Length and two chunked."""
    answers: list = []

    def one(i):
        body = Sized(size_mib * MIB) if i % 2 == 0 else chunks(size_mib * MIB)
        try:
            answers.append(proxy.session().put(BOX_TASK, data=body, timeout=120).status_code)
        except requests.RequestException as e:
            answers.append(type(e).__name__)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(150)
    return f"4 x {size_mib} MiB: answers {sorted(map(str, answers))}"


def _raw(proxy: Proxy, host: str, raw: bytes, read_timeout: float = 10) -> bytes:
    address = proxy.url.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((address[0], int(address[1])), timeout=read_timeout)
    try:
        sock.sendall(f"CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n".encode())
        sock.recv(4096)
        tls = ssl.create_default_context(cafile=proxy.ca).wrap_socket(sock, server_hostname=host)
        try:
            tls.sendall(raw)
        except OSError:
            pass
        try:
            return tls.recv(4096)
        except (OSError, ssl.SSLError) as e:
            return f"no answer ({type(e).__name__})".encode()
    finally:
        sock.close()


def attack_headers(proxy: Proxy) -> str:
    """One request with a 64 MiB header."""
    raw = b"GET /2.0/tasks/11446498 HTTP/1.1\r\nHost: api.box.com\r\nX-Big: " + b"h" * (64 * MIB) + b"\r\n\r\n"
    return "answer: " + _raw(proxy, "api.box.com", raw, 30).split(b"\r\n", 1)[0].decode("latin-1")


def attack_idle(proxy: Proxy) -> str:
    """1,100 idle TCP connections against a proxy whose open-files limit is 1,024; then a client."""
    port = int(proxy.url.rsplit(":", 1)[1])
    socks = []
    for _ in range(1100):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        except OSError:
            break
    time.sleep(2)
    began = time.monotonic()
    try:
        status = proxy.session().get(BOX_TASK, timeout=10).status_code
        outcome = f"a new client got {status} in {time.monotonic() - began:.2f} s"
    except requests.RequestException as e:
        outcome = f"a new client failed after {time.monotonic() - began:.1f} s ({type(e).__name__})"
    for s in socks:
        s.close()
    return f"{len(socks)} idle connections opened; {outcome}"


def attack_trailer(proxy: Proxy) -> str:
    raw = (
        b"PUT /2.0/tasks/11446498 HTTP/1.1\r\nHost: api.box.com\r\nAuthorization: Bearer x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"
        b'14\r\n{"message": "hello"}\r\n0\r\nX-Checksum: c0ffee\r\n\r\n'
    )
    return "answer: " + _raw(proxy, "api.box.com", raw, 5).split(b"\r\n", 1)[0].decode("latin-1")


def attack_rapid_reset(proxy: Proxy) -> str:
    cpu = cpu_seconds(proxy.proc.pid)
    sent, ended = rapid_reset(proxy.url, proxy.ca, streams=20000)
    time.sleep(0.5)
    return f"{sent} streams sent, connection {ended}; proxy CPU 0.5 s after: {cpu_seconds(proxy.proc.pid) - cpu:.1f} s"


def attack_bare_cr(proxy: Proxy) -> str:
    raw = b"GET /2.0/tasks/11446498 HTTP/1.1\r\nHost: api.box.com\r\nX-A: a\rb\r\nX-B: a\x00b\r\n\r\n"
    return "answer: " + _raw(proxy, "api.box.com", raw, 5).split(b"\r\n", 1)[0].decode("latin-1")


# -- issue 27, items 1-7 ----------------------------------------------------------------------------
class Lab:
    """What an attack gets: the checkout, its temp folder, the options, the proxy the runner started
    for it (None if it starts its own), and start() for more; the runner stops them all."""

    def __init__(self, tree: Path, work: Path, options: argparse.Namespace) -> None:
        self.tree, self.work, self.options = tree, work, options
        self.proxy: Proxy | None = None
        self.proxies: list[Proxy] = []
        self.closed = False  # the runner stopped everything: an attack past its timeout starts nothing more

    def start(self, args: list[str], nofile: int | None = None) -> Proxy:
        if self.closed:
            raise RuntimeError("the attack was stopped\n")
        proxy = Proxy(self.tree, self.work, args, nofile)
        self.proxies.append(proxy)
        if self.closed:
            proxy.stop()
        return proxy

    def stop(self, proxy: Proxy | None = None) -> int:
        """Stops one proxy (its exit status), or, for good, all of them."""
        if proxy is not None:
            return proxy.stop()
        self.closed = True
        for p in self.proxies:
            p.stop()
        return 0


def watched(proxy: Proxy, fn: Callable, *args, **kwargs) -> tuple[Any, float, float]:
    """fn(*args, **kwargs) while another client asks `proxy` for a task every 50 ms: (what fn
    returned, its seconds, the other client's slowest answer)."""
    bystander = Bystander(proxy)
    began = time.monotonic()
    try:
        result = fn(*args, **kwargs)
    finally:
        took = time.monotonic() - began
        bystander.stop()
    return result, took, bystander.slowest


def said(r: requests.Response | str) -> str:
    """A status, with the error code of Graph's or Box's envelope (or the exception's name)."""
    if isinstance(r, str):
        return r
    try:
        data = r.json()
    except ValueError:
        return str(r.status_code)
    if not isinstance(data, dict) or r.status_code < 400:
        return str(r.status_code)
    error = data["error"] if isinstance(data.get("error"), dict) else data
    crash = re.search(r"\b([A-Z]\w*(?:Error|Exception))\(", str(error.get("message")))  # a 500's exception
    return f"{r.status_code} {crash.group(1) if crash else error.get('code') or ''}".strip()


def call(fn: Callable[..., requests.Response], *args, **kwargs) -> requests.Response | str:
    """fn(*args, **kwargs): a request whose failure (a timeout, a reset) is an outcome to report."""
    try:
        return fn(*args, **kwargs)
    except requests.RequestException as e:
        return type(e).__name__


def at_once(n: int, fn: Callable[[], Any], timeout: float) -> list:
    """fn() in n threads at once: what those that ended within `timeout` returned (or raised)."""
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(_guard(fn)), daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    end = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    return results


def timed(fn: Callable, *args, **kwargs) -> tuple[Any, float]:
    """What fn(*args, **kwargs) returned, and its seconds."""
    began = time.monotonic()
    result = fn(*args, **kwargs)
    return result, time.monotonic() - began


def p50(fn: Callable[[], Any], n: int = 50) -> float:
    times = []
    for _ in range(n):
        began = time.monotonic()
        fn()
        times.append(time.monotonic() - began)
    return statistics.median(times)


def digest_header(data: bytes | Any) -> str:
    """Box's `Digest: sha=BASE64` of content (bytes) or of a hashlib.sha1 object."""
    raw = hashlib.sha1(data).digest() if isinstance(data, bytes) else data.digest()
    return "sha=" + base64.b64encode(raw).decode()


def box_upload(s: requests.Session, name: str, content: bytes, file_id: str | None = None) -> requests.Response:
    """A multipart upload to Box: a new file in All Files, or a new version of file_id."""
    url = f"{BOX_UPLOAD}/{file_id}/content" if file_id else f"{BOX_UPLOAD}/content"
    attributes = {"name": name} if file_id else {"name": name, "parent": {"id": "0"}}
    files = {"attributes": (None, json.dumps(attributes)), "file": (name, content)}
    return s.post(url, files=files, timeout=120)


def box_session(s: requests.Session, name: str, size: int) -> requests.Response:
    body = {"folder_id": "0", "file_size": size, "file_name": name}
    return s.post(f"{BOX_UPLOAD}/upload_sessions", json=body, timeout=30)


def box_part(s: requests.Session, session: dict, first: int, data: bytes, size: int) -> requests.Response:
    headers = {
        "Content-Range": f"bytes {first}-{first + len(data) - 1}/{size}",
        "Digest": digest_header(data),
        "Content-Type": "application/octet-stream",
    }
    return s.put(session["session_endpoints"]["upload_part"], data=data, headers=headers, timeout=60)


def box_chunked(s: requests.Session, name: str, size: int) -> tuple[str, Callable[[], requests.Response] | None]:
    """Every part of a chunked upload of `size` bytes: (how that went, the commit to send)."""
    r = box_session(s, name, size)
    if r.status_code != 201:
        return f"session {said(r)}", None
    session = r.json()
    part_size, whole, parts = session["part_size"], hashlib.sha1(), []
    for first in range(0, size, part_size):
        data = bytes([first // part_size % 256]) * min(part_size, size - first)
        whole.update(data)
        r = box_part(s, session, first, data, size)
        if r.status_code != 200:
            return f"part at {first}: {said(r)}", None
        parts.append(r.json()["part"])
    commit = session["session_endpoints"]["commit"]
    headers = {"Digest": digest_header(whole)}
    return f"{len(parts)} parts", lambda: s.post(commit, json={"parts": parts}, headers=headers, timeout=120)


def graph_upload_url(s: requests.Session, name: str) -> str | None:
    r = s.post(f"{GRAPH}/me/drive/root:/{name}:/createUploadSession", json={}, timeout=30)
    return r.json().get("uploadUrl") if r.status_code == 200 else None


def graph_fragment(s: requests.Session, url: str, data: bytes, total: int) -> requests.Response:
    headers = {"Content-Range": f"bytes 0-{len(data) - 1}/{total}"}
    return s.put(url, data=data, headers=headers, timeout=60)


def refused(e: RuntimeError) -> str:
    """The last thing a process that did not start said."""
    lines = [line for line in str(e).splitlines()[1:] if line.strip()]
    return lines[-1][:160] if lines else "no output"


def attack_deep_path(lab: Lab) -> str:
    """Item 1: a 2 KB path upload breaks OneDrive for every client, past a restart with --state; a GET
    by a 12,000-level path."""
    state = ["demo", "--state", str(lab.work / "state.yaml")]
    proxy = lab.start(state)
    s = proxy.session()
    url = f"{GRAPH}/me/drive/root:/{'/'.join(['d', *['a'] * 988, 'f.txt'])}:/content"
    put = said(call(s.put, url, data=b"deep", timeout=60))
    children = said(call(s.get, f"{GRAPH}/me/drive/root/children", timeout=60))
    folder = said(call(s.get, f"{GRAPH}/me/drive/root:/d:", timeout=60))
    delete = said(call(s.delete, f"{GRAPH}/me/drive/root:/d:", timeout=60))
    lab.stop(proxy)
    proxy = lab.start(state)
    s = proxy.session()
    restarted = said(call(s.get, f"{GRAPH}/me/drive/root/children", timeout=60))
    far = f"{GRAPH}/me/drive/root:/{'/'.join(['e', *['a'] * 11999])}"
    made = said(call(s.put, f"{far}/f.txt:/content", data=b"far", timeout=60))
    r, took, slowest = watched(proxy, call, s.get, f"{far}:", timeout=60)
    return (
        f"PUT of a {len(url)}-char path (990 levels): {put}; then root/children {children}, /d {folder}, "
        f"DELETE /d {delete}; after a restart (--state) root/children {restarted}; PUT by 12,000 levels {made}, "
        f"then GET by them: {said(r)} in {took:.2f} s, other client's slowest {slowest:.2f} s"
    )


def big_json() -> bytes:
    """3.8 MB (3.6 MiB) of JSON, 200,000 keys: under --max-body 4m."""
    return json.dumps({f"k{i:06d}": f"{i:06d}" for i in range(200_000)}, separators=(",", ":")).encode()


def miss_cassette(work: Path) -> list[str]:
    """`replay` of 300 interactions: three user creations (JSON bodies, the candidates the
    closest-recording search compares a missed POST /v1.0/users with), group reads of another API
    area, and the task the other client asks for."""
    users = [
        interaction(
            "POST",
            f"{GRAPH}/users",
            201,
            body={"id": str(i), "displayName": f"User {i}"},
            req_body=json.dumps({"displayName": f"User {i}", "mailNickname": f"user{i}", "accountEnabled": True}),
            req_headers={"Content-Type": ["application/json"]},
        )
        for i in range(3)
    ]
    groups = [interaction("GET", f"{GRAPH}/groups/{i}", body={"id": str(i)}) for i in range(296)]
    task = interaction("GET", BOX_TASK, body={"type": "task", "id": "11446498"})
    return ["replay", str(write_cassette(work / "users.yaml", [*users, *groups, task])), "--max-body", "4m"]


def attack_big_miss(lab: Lab) -> str:
    """Item 2: one request with a 3.6 MB, 200,000-key JSON body that nothing matches, against replay
    (the closest-recording search: three candidates) and against the demo's spec answers."""
    body, headers = big_json(), {"Content-Type": "application/json"}
    assert lab.proxy is not None
    s = lab.proxy.session()
    r, took, slowest = watched(lab.proxy, call, s.post, f"{GRAPH}/users", data=body, headers=headers, timeout=60)
    out = [f"{len(body) / MB:.1f} MB body: replay {said(r)} in {took:.2f} s (other client's slowest {slowest:.2f} s)"]
    demo = lab.start(["demo", "--max-body", "4m"])
    s = demo.session()
    for method, url in (("POST", f"{GRAPH}/users"), ("PUT", f"{BOX_API}/folders/123")):
        r, took, slowest = watched(demo, call, s.request, method, url, data=body, headers=headers, timeout=60)
        out.append(f"demo {method} {url.split('/', 3)[3]} {said(r)} in {took:.2f} s (slowest {slowest:.2f} s)")
    return "; ".join(out)


def attack_loop_work(lab: Lab) -> str:
    """Item 3: a 60 MB multipart upload and a 200 MB chunked upload, with and without --state, and a
    task PUT's latency with --state before and after 600 uploads."""
    out = []
    for label, extra in (("demo", []), ("--state", ["--state", str(lab.work / "big.yaml")])):
        proxy = lab.start(["demo", *extra])
        s = proxy.session()
        r, took, slowest = watched(proxy, call, box_upload, s, "big.bin", b"m" * (60 * MB))
        parts, commit = box_chunked(s, "chunked.bin", 200 * MB)
        if commit is None:
            chunked = parts
        else:
            r2, took2, slowest2 = watched(proxy, call, commit)
            chunked = f"{parts}, commit {said(r2)} in {took2:.2f} s, slowest {slowest2:.2f} s"
        out.append(
            f"{label}: 60 MB multipart {said(r)} in {took:.2f} s, slowest {slowest:.2f} s; 200 MB chunked {chunked}"
        )
        lab.stop(proxy)
    proxy = lab.start(["demo", "--state", str(lab.work / "puts.yaml")])
    s = proxy.session()
    put = lambda: s.put(BOX_TASK, json={"message": "x"}, timeout=30)  # noqa: E731
    before = p50(put)
    uploaded = sum(box_upload(s, f"small{i}.txt", b"small %d" % i).status_code == 201 for i in range(600))
    after = p50(put)
    out.append(f"--state: task PUT p50 {before * 1000:.1f} ms before uploads, {after * 1000:.1f} ms after {uploaded}")
    return "; ".join(out)


def attack_sessions(lab: Lab) -> str:
    """Item 4: upload sessions hold their parts in memory, never expire, and take any declared size."""
    assert lab.proxy is not None
    proxy, part = lab.proxy, b"p" * (8 * MIB)
    s = proxy.session()
    size = 3 * len(part)
    start = proxy.rss()
    box = 0
    for i in range(60):
        r = box_session(s, f"held{i}.bin", size)
        box += r.status_code == 201 and box_part(s, r.json(), 0, part, size).status_code == 200
    after_box = proxy.rss()
    graph = 0
    for i in range(40):
        url = graph_upload_url(s, f"big{i}.bin")
        graph += url is not None and graph_fragment(s, url, part, size).status_code == 202
    after_graph = proxy.rss()
    huge = said(box_session(s, "huge.bin", 10**30))
    url = graph_upload_url(s, "huge.bin")
    huge_graph = said(graph_fragment(s, url, b"x" * 10, 10**30)) if url else "no session"
    return (
        f"{box}/60 Box sessions with an 8 MiB part: RSS {start:.0f} -> {after_box:.0f} MB (+{after_box - start:.0f}); "
        f"{graph}/40 Graph sessions x 8 MiB: -> {after_graph:.0f} MB (+{after_graph - after_box:.0f}); "
        f"a Box session of 10**30 bytes: {huge}; a Graph fragment of a 10**30-byte file: {huge_graph}"
    )


def attack_versions(lab: Lab) -> str:
    """Item 5: nine versions of a 30 MB Box file stay in memory after DELETE, and their URLs still serve."""
    assert lab.proxy is not None
    proxy = lab.proxy
    s = proxy.session()
    start = proxy.rss()
    first = b"0" * (30 * MB)
    r = box_upload(s, "big.bin", first)
    if r.status_code != 201:
        return f"upload: {said(r)}"
    file_id = r.json()["entries"][0]["id"]
    versions = [said(box_upload(s, "big.bin", str(v).encode() * (30 * MB), file_id)) for v in range(1, 9)]
    after_versions = proxy.rss()
    location = s.get(f"{BOX_API}/files/{file_id}/content", allow_redirects=False, timeout=30).headers.get("Location")
    deleted = said(s.delete(f"{BOX_API}/files/{file_id}", timeout=30))
    time.sleep(0.5)
    after_delete = proxy.rss()

    def fetched(url: str | None) -> str:
        if not url:
            return "no URL"
        with s.get(url, stream=True, timeout=60) as got:
            return said(got)

    by_digest = f"https://dl.boxcloud.com/d/1/{hashlib.sha256(first).hexdigest()}/download"
    return (
        f"RSS {start:.0f} MB; a 30 MB upload and 8 versions ({', '.join(sorted(set(versions)))}): "
        f"{after_versions:.0f} MB; "
        f"DELETE {deleted}: {after_delete:.0f} MB; after it the download URL: {fetched(location)}, "
        f"version 1 by its SHA-256: {fetched(by_digest)}"
    )


def body_file_cassette(work: Path, body: bytes) -> tuple[Path, Path]:
    """A cassette whose download is a body file (as `record --body-files` writes it), and that file."""
    name = hashlib.sha256(body).hexdigest()
    folder = work / "big.yaml.bodies"
    folder.mkdir(exist_ok=True)
    (folder / name).write_bytes(body)
    download = interaction(
        "GET", f"{BOX_API}/files/1/content", body="a note", headers={"Content-Type": ["application/octet-stream"]}
    )
    download["tapeproxy"] = {"body_files": {"response": {"sha256": name, "size": len(body)}}}
    task = interaction("GET", BOX_TASK, body={"type": "task", "id": "11446498"})
    return write_cassette(work / "big.yaml", [download, task]), folder / name


def _swap(path: Path, make: Callable[[Path], None]) -> None:
    """Replaces the file at `path` with what make() creates, in one rename."""
    new = path.with_name(path.name + ".new")
    make(new)
    os.replace(new, path)


def _sparse(path: Path, size: int) -> None:
    with open(path, "wb") as f:  # holes: no disk taken
        f.truncate(size)


def _release(fifo: Path) -> None:
    """Opens the FIFO for writing and closes it until no reader waits: each blocked reader gets EOF."""
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError as e:
            if e.errno == errno.ENXIO:  # no reader left
                return
        time.sleep(0.05)


def attack_body_files(lab: Lab) -> str:
    """Item 6: a 150 MB body file served to one and to four clients at once, a 10-byte Range of it,
    the file swapped for a FIFO and for a 1.5 GB sparse file after start (each in a proxy of its
    own, so each peak is its own), and one 50 KB request body file named by 10,000 interactions."""
    body = os.urandom(150 * MB)
    cassette, file = body_file_cassette(lab.work, body)
    url, out = f"{BOX_API}/files/1/content", []
    for clients in (1, 4):
        proxy = lab.start(["replay", str(cassette)])

        def download(proxy: Proxy = proxy) -> bool:
            with proxy.session().get(url, stream=True, timeout=120) as r:
                return sum(len(c) for c in r.iter_content(MIB)) == len(body)

        whole = at_once(clients, download, 150)
        time.sleep(0.2)  # the sampler's last look
        out.append(f"150 MB to {clients} at once: {whole.count(True)} whole, peak RSS {proxy.peak:.0f} MB")
        lab.stop(proxy)

    proxy = lab.start(["replay", str(cassette)])
    r, took = timed(proxy.session().get, url, headers={"Range": "bytes=0-9"}, timeout=60)
    time.sleep(0.2)
    out.append(f"10-byte Range: {r.status_code} ({len(r.content)} bytes) in {took:.2f} s, peak {proxy.peak:.0f} MB")
    lab.stop(proxy)

    proxy = lab.start(["replay", str(cassette)])
    _swap(file, os.mkfifo)
    try:
        out.append(_fifo(proxy, url, cassette))
    finally:
        _release(file)
    lab.stop(proxy)
    file.unlink()
    file.write_bytes(body)

    proxy = lab.start(["replay", str(cassette)])
    _swap(file, lambda p: _sparse(p, 1500 * MB))
    r, took = timed(call, proxy.session().get, url, timeout=60)
    time.sleep(0.2)
    out.append(f"1.5 GB sparse file swapped in: {said(r)} in {took:.2f} s, peak {proxy.peak:.0f} MB")
    lab.stop(proxy)
    out.append(_many_names(lab))
    return "; ".join(out)


def _fifo(proxy: Proxy, url: str, cassette: Path) -> str:
    """Eight requests for a body file that is now a FIFO; then the control API, another request and
    hot reload, which need the threads those eight may hold."""
    answers = Counter(at_once(8, lambda: said(call(proxy.session().get, url, timeout=3)), 10))
    control = proxy.session()
    control.proxies["http"] = proxy.url  # the control API: http://tapeproxy/ through the proxy
    ctl = said(call(control.post, "http://tapeproxy/scenarios", json={"scenario": "graph-throttle-once"}, timeout=3))
    other = said(call(proxy.session().get, BOX_TASK, timeout=3))
    seen = len(proxy.lines)
    os.utime(cassette)  # an edit: hot reload builds the cassettes again (or says why it cannot)
    end = time.monotonic() + 3
    while time.monotonic() < end and not any("reload" in x or "previous" in x for x in proxy.lines[seen:]):
        time.sleep(0.1)
    reloaded = "answered" if time.monotonic() < end else "silent for 3 s"
    got = ", ".join(f"{n} x {answer}" for answer, n in answers.items())
    return f"FIFO swapped in: 8 clients got {got}; then control API {ctl}, another request {other}, reload {reloaded}"


def _many_names(lab: Lab) -> str:
    """A replay of 10,000 interactions whose request bodies are one 50 KB body file."""
    small = os.urandom(50_000)
    name = hashlib.sha256(small).hexdigest()
    (lab.work / "many.yaml.bodies").mkdir()
    (lab.work / "many.yaml.bodies" / name).write_bytes(small)
    many = []
    for i in range(10_000):
        e = interaction("POST", f"{BOX_API}/files/{i}/copy", 201, body={"id": str(i)}, req_body="a note")
        e["request"]["headers"] = {"Content-Type": ["application/octet-stream"]}
        e["tapeproxy"] = {"body_files": {"request": {"sha256": name, "size": len(small)}}}
        many.append(e)
    text = yaml.dump({"interactions": many, "version": 1}, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))
    (lab.work / "many.yaml").write_text(text)
    proxy, took = timed(lab.start, ["replay", str(lab.work / "many.yaml")])
    time.sleep(0.2)
    return f"10,000 interactions naming one 50 KB request body file: started in {took:.1f} s, RSS {proxy.rss():.0f} MB"


class _Downloads(http.server.BaseHTTPRequestHandler):
    """An upstream whose every answer is 2 KB of bytes of its own (a body file each with --body-files 1k)."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = hashlib.sha256(self.path.encode()).digest() * 64
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _recorded(proxy: Proxy) -> str:
    proxy.server.wait_for("stopped", 5)
    found = re.search(r"recorded (\d+) interaction", proxy.server.output)
    return found.group(1) if found else "?"


def attack_two_writers(lab: Lab) -> str:
    """Item 7: two `record` processes on one cassette, two demos on one state file, and a world file
    that is also the state file."""
    return "; ".join((_two_recorders(lab), _two_demos(lab), _world_is_state(lab)))


def _two_recorders(lab: Lab) -> str:
    """Two `record --cassette SAME.yaml --body-files 1k` of a local upstream, 40 requests through each."""
    upstream = LocalHTTPS(lab.work, _Downloads)
    cassette, out = lab.work / "same.yaml", ""
    record = ["record", "--cassette", str(cassette), "--body-files", "1k", "--upstream-ca", str(upstream.cert)]
    record += ["--upstream", f"graph.microsoft.com=https://127.0.0.1:{upstream.port}"]
    try:
        writers = [lab.start(record)]
        try:
            writers.append(lab.start(record))
        except RuntimeError as e:
            out = f"the second record refused: {refused(e)}; "
        sessions = [p.session() for p in writers]
        for i in range(40):
            for n, s in enumerate(sessions):
                call(s.get, f"{GRAPH}/writer{n}/item{i}", timeout=10)
        for p in writers:
            lab.stop(p)
    finally:
        upstream.close()
    doc = (yaml.safe_load(cassette.read_text()) if cassette.exists() else None) or {}
    entries = doc.get("interactions") or []
    named = {ref["sha256"] for e in entries for ref in e.get("tapeproxy", {}).get("body_files", {}).values()}
    folder = lab.work / "same.yaml.bodies"
    files = {p.name for p in folder.iterdir()} if folder.exists() else set()
    reported = " and ".join(f"recorded {_recorded(p)}" for p in writers)
    return out + (
        f"{len(writers)} record x 40 requests: they said {reported}; the cassette holds {len(entries)}, "
        f"{len(files - named)} of {len(files)} body files orphaned"
    )


def _two_demos(lab: Lab) -> str:
    """Two `demo --state S` uploading 11 files each; then a restart: which uploads are there?"""
    state, out = ["demo", "--state", str(lab.work / "state.yaml")], ""
    demos = [lab.start(state)]
    try:
        demos.append(lab.start(state))
    except RuntimeError as e:
        out = f"the second demo --state refused: {refused(e)}; "
    sessions, uploads = [d.session() for d in demos], []
    for i in range(11):
        for n, s in enumerate(sessions):
            r = box_upload(s, f"demo{n}-{i}.txt", b"upload %d %d" % (n, i))
            if r.status_code == 201:  # both demos may hand out the same ids: the name tells them apart
                uploads.append((r.json()["entries"][0]["id"], f"demo{n}-{i}.txt"))
    for d in demos:
        lab.stop(d)
    again = lab.start(state)
    s, kept = again.session(), 0
    for file_id, name in uploads:
        r = s.get(f"{BOX_API}/files/{file_id}", timeout=10)
        kept += r.status_code == 200 and r.json().get("name") == name
    lab.stop(again)
    return out + f"{len(demos)} demo(s) on one --state uploaded {len(uploads)} files, after a restart {kept} exist"


def _world_is_state(lab: Lab) -> str:
    """`demo --world F --state F`: an upload in progress, one change, then 5 idle seconds."""
    world = lab.work / "world.yaml"
    world.write_bytes((lab.tree / "addons" / "sim" / "default-world.yaml").read_bytes())
    try:
        proxy = lab.start(["demo", "--world", str(world), "--state", str(world)])
    except RuntimeError as e:
        return f"--world F --state F refused: {refused(e)}"
    s = proxy.session()
    upload = box_session(s, "pending.bin", 3 * 8 * MIB)
    s.put(BOX_TASK, json={"message": "one change"}, timeout=10)
    seen = len(proxy.lines)
    time.sleep(5)
    reloads = sum("reloaded world" in line for line in proxy.lines[seen:])
    pending = said(call(s.get, upload.json()["session_endpoints"]["status"], timeout=10)) if upload.ok else "none"
    lab.stop(proxy)
    return f"--world F --state F: {reloads} reloads in 5 idle s after one change; the upload in progress: {pending}"


@dataclass
class Attack:
    """An attack, and the proxy the runner starts and watches for it: `proxy(work)` gives its
    arguments (work: the attack's temp folder, to write files into first); None: the attack starts
    its own with Lab.start."""

    run: Callable[[Lab], str]
    proxy: Callable[[Path], list[str]] | None = lambda work: ["demo"]
    nofile: int | None = None
    timeout: float = 120


ATTACKS = {
    "upload": Attack(lambda lab: attack_upload(lab.proxy, lab.options.upload_mib)),
    "headers": Attack(lambda lab: attack_headers(lab.proxy)),
    "idle": Attack(lambda lab: attack_idle(lab.proxy), nofile=1024),
    "trailer": Attack(lambda lab: attack_trailer(lab.proxy)),
    "rapid-reset": Attack(lambda lab: attack_rapid_reset(lab.proxy)),
    "bare-cr": Attack(lambda lab: attack_bare_cr(lab.proxy)),
    # issue 27
    "deep-path": Attack(attack_deep_path, proxy=None),
    "big-miss": Attack(attack_big_miss, proxy=miss_cassette),
    "loop-work": Attack(attack_loop_work, proxy=None, timeout=240),
    "sessions": Attack(attack_sessions),
    "versions": Attack(attack_versions),
    "body-files": Attack(attack_body_files, proxy=None, timeout=240),
    "two-writers": Attack(attack_two_writers, proxy=None),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tree",
        default=str(Path(__file__).resolve().parent.parent),
        help="the checkout whose addons/ to run (default: this one)",
    )
    parser.add_argument("--only", default=",".join(ATTACKS), help="comma-separated attacks: " + ", ".join(ATTACKS))
    parser.add_argument("--upload-mib", type=int, default=500, help="size of each upload (default: 500)")
    parser.add_argument("--verbose", action="store_true", help="print the end of the proxy's log after each")
    parser.add_argument(
        "--timeout", type=float, help="stop an attack after this many seconds (default: its own, mostly 120)"
    )
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    print(f"tapeproxy at {tree}")
    print(f"{'attack':12} {'wall':>7} {'peak RSS':>9}  outcome | other client")
    for name in args.only.split(","):
        attack = ATTACKS[name]
        with tempfile.TemporaryDirectory() as work:
            lab = Lab(tree, Path(work), args)
            try:
                bystander = None
                if attack.proxy is not None:
                    lab.proxy = lab.start(attack.proxy(lab.work), attack.nofile)
                    lab.proxy.session().get(BOX_TASK, timeout=10)
                    bystander = Bystander(lab.proxy)
                    time.sleep(0.3)
                began = time.monotonic()
                outcome = _in_thread(lambda attack=attack, lab=lab: attack.run(lab), args.timeout or attack.timeout)
                wall = time.monotonic() - began
                seen = bystander.stop() if bystander else "see the outcome"
                peak = max(p.peak for p in lab.proxies) if lab.proxies else 0.0
                print(f"{name:12} {wall:6.1f}s {peak:7.0f}MB  {outcome} | {seen}", flush=True)
                if args.verbose:
                    for p in lab.proxies:
                        print("\n".join(p.lines[-30:]))
            except RuntimeError as e:  # a proxy that did not start
                print(f"{name:12} did not start: {refused(e)}", flush=True)
            finally:
                lab.stop()


if __name__ == "__main__":
    main()
