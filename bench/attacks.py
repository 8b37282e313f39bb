"""The hardening issue's attacks against a running tapeproxy: what each costs it, and what another
client sees meanwhile. Everything stays on loopback.

    python bench/attacks.py                    # this checkout
    python bench/attacks.py --tree /tmp/base   # another checkout (e.g. a worktree of an older commit)
    python bench/attacks.py --only upload,rapid-reset

Per attack it prints the outcome, the wall time, the proxy's peak RSS and the other client's
slowest answer (or how many of its requests failed). An attack that never ends is stopped at
--timeout and reported as such.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import ssl
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from attack_clients import MIB, Sized, chunks, cpu_seconds, rapid_reset  # noqa: E402
from process import ReadyProcess  # noqa: E402

BOX_TASK = "https://api.box.com/2.0/tasks/11446498"


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

    def stop(self) -> None:
        self._sampling = False
        self.server.stop()


class Bystander:
    """Another client asking for a task every 50 ms while the attack runs."""

    def __init__(self, proxy: Proxy) -> None:
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(proxy,), daemon=True)
        self._thread.start()

    def _run(self, proxy: Proxy) -> None:
        s = proxy.session()
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


ATTACKS = {
    "upload": lambda p, a: attack_upload(p, a.upload_mib),
    "headers": lambda p, a: attack_headers(p),
    "idle": lambda p, a: attack_idle(p),
    "trailer": lambda p, a: attack_trailer(p),
    "rapid-reset": lambda p, a: attack_rapid_reset(p),
    "bare-cr": lambda p, a: attack_bare_cr(p),
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
    parser.add_argument("--timeout", type=float, default=120, help="stop an attack after this many seconds")
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    print(f"tapeproxy at {tree}")
    print(f"{'attack':12} {'wall':>7} {'peak RSS':>9}  outcome | other client")
    for name in args.only.split(","):
        with tempfile.TemporaryDirectory() as work:
            proxy = Proxy(tree, Path(work), ["demo"], nofile=1024 if name == "idle" else None)
            try:
                proxy.session().get(BOX_TASK, timeout=10)
                bystander = Bystander(proxy)
                time.sleep(0.3)
                began = time.monotonic()
                outcome = _in_thread(lambda attack=ATTACKS[name], proxy=proxy: attack(proxy, args), args.timeout)
                wall = time.monotonic() - began
                seen = bystander.stop()
                print(f"{name:12} {wall:6.1f}s {proxy.peak:7.0f}MB  {outcome} | {seen}", flush=True)
                if args.verbose:
                    print("\n".join(proxy.lines[-30:]))
            finally:
                proxy.stop()


if __name__ == "__main__":
    main()
