"""tapeproxy's benchmark: tapeproxy and its floor under the same load, in one run, as ratios.

    python bench/run.py            # the full run (a few minutes)
    python bench/run.py --quick    # shorter loads; --check fails if replay < 0.8x the floor (CI)

The floor is a lean mitmproxy master whose only addon returns a fixed response (bench/floor.py).
Load comes from `hey` (Debian's package): HTTPS through the proxy, 16 connections, with keep-alive
and with a new connection per request. Prints req/s, p50 and p99 for each, the ratios, start-up
to the first HTTPS response of `tapeproxy demo`, cassette load time and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

HERE = Path(__file__).resolve().parent
URL = "https://graph.microsoft.com/v1.0/print/taskDefinitions/bench/tasks/{}"
AUTH = "Authorization: Bearer bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tapeproxy_cmd() -> list[str]:
    script = Path(sys.executable).parent / "tapeproxy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tapeproxy.cli"]


def write_cassette(path: Path, n: int) -> None:
    body = json.dumps({"id": "bench", "status": {"state": "completed", "description": "recorded"}})
    interactions = [{"request": {"body": None, "headers": {}, "method": "GET", "uri": URL.format(i)},
                     "response": {"status": {"code": 200, "message": "OK"},
                                  "headers": {"Content-Type": ["application/json"]}, "body": {"string": body}}}
                    for i in range(n)]
    path.write_text(yaml.dump({"interactions": interactions, "version": 1}, Dumper=yaml.CSafeDumper))


def write_scenario(path: Path, rules: int) -> None:
    """Rules that look at every request but (except a late one) never fire: the cost of looking."""
    items = [{"match": {"host": "graph.microsoft.com", "method": "GET", "path": f"/v1.0/other/{i}/**"},
              "error": "throttled"} for i in range(rules - 1)]
    items.append({"match": {"host": "graph.microsoft.com", "path": "/v1.0/never"}, "error": "not_found"})
    path.write_text(yaml.safe_dump({"name": "bench-rules", "rules": items}))


class Server:
    def __init__(self, name: str, command: list[str], ready: str, env=None):
        self.name = name
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.started = time.monotonic()
        end = time.monotonic() + 60
        lines = []
        while time.monotonic() < end:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if ready in line:
                break
        else:
            line = ""
        if ready not in "".join(lines):
            self.stop()
            raise RuntimeError(f"{name} did not start:\n" + "".join(lines))
        # keep draining output so the process never blocks on a full pipe
        import threading
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def rss_peak_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def hey(port: int, ca: str, n: int, keepalive: bool, path_index: int = 0) -> dict:
    command = ["hey", "-n", str(n), "-c", "16", "-x", f"http://127.0.0.1:{port}", "-H", AUTH]
    if not keepalive:
        command.append("-disable-keepalive")
    command.append(URL.format(path_index))
    env = {**os.environ, "SSL_CERT_FILE": ca}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"50% in ([\d.]+) secs", out).group(1)) * 1000
    p99 = float(re.search(r"99% in ([\d.]+) secs", out).group(1)) * 1000
    codes = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "codes": codes}


def first_https_response(confdir: str) -> float:
    """Seconds from starting `tapeproxy demo` to its first answered HTTPS request."""
    port = free_port()
    subprocess.run([*tapeproxy_cmd(), "ca", "--confdir", confdir], check=True, capture_output=True)  # made once, ever
    start = time.monotonic()
    proc = subprocess.Popen([*tapeproxy_cmd(), "demo", "--port", str(port), "--confdir", confdir, "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    s = requests.Session()
    s.trust_env = False
    try:
        while time.monotonic() - start < 30:
            try:
                r = s.get(URL.replace("bench/tasks/{}", "3203656e-6069-4e10-8147-d25290b00a3c"),
                          proxies={"https": f"http://127.0.0.1:{port}"}, verify=f"{confdir}/mitmproxy-ca-cert.pem",
                          headers={"Authorization": "Bearer bench"}, timeout=5)
                if r.status_code == 200:
                    return time.monotonic() - start
            except requests.RequestException:
                time.sleep(0.01)
        raise RuntimeError("tapeproxy demo answered nothing within 30 s")
    finally:
        proc.terminate()
        proc.wait(15)


def cassette_load_seconds(path: Path) -> float:
    from tapeproxy.core.cassette import load
    from tapeproxy.core.index import ReplayIndex
    start = time.perf_counter()
    ReplayIndex(load(path))
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short loads (CI)")
    parser.add_argument("--check", action="store_true", help="exit 1 if replay falls below 0.8x the floor")
    args = parser.parse_args()
    if not shutil.which("hey"):
        print("bench: needs `hey` (apt-get install hey)", file=sys.stderr)
        return 2
    n = 2000 if args.quick else 10000
    work = Path(tempfile.mkdtemp(prefix="tapeproxy-bench-"))
    confdir = str(work / "conf")
    subprocess.run([*tapeproxy_cmd(), "ca", "--confdir", confdir], check=True, capture_output=True)
    ca = f"{confdir}/mitmproxy-ca-cert.pem"
    small, large, rules = work / "small.yaml", work / "large.yaml", work / "rules.yaml"
    write_cassette(small, 10)
    write_cassette(large, 10_000)
    write_scenario(rules, 100)

    def tapeproxy(*extra) -> Server:
        port = free_port()
        s = Server("tapeproxy", [*tapeproxy_cmd(), "replay", *extra, "--port", str(port), "--confdir", confdir,
                                 "--quiet"], "tapeproxy replay: proxy")
        s.port = port
        return s

    def floor() -> Server:
        port = free_port()
        s = Server("floor", [sys.executable, str(HERE / "floor.py"), str(port), confdir], "listening")
        s.port = port
        return s

    def mitmdump() -> Server:
        port = free_port()
        exe = Path(sys.executable).parent / "mitmdump"
        s = Server("mitmdump", [str(exe), "-q", "-s", str(HERE / "fixed_addon.py"), "--listen-host", "127.0.0.1",
                                "--listen-port", str(port), "--set", f"confdir={confdir}",
                                "--set", "connection_strategy=lazy"], "", )
        s.port = port
        time.sleep(2)  # -q: nothing to wait for on its output
        return s

    results: dict[str, dict] = {}
    rss: dict[str, float] = {}
    runs = [("floor", floor), ("replay 10", lambda: tapeproxy(str(small))),
            ("replay 10,000", lambda: tapeproxy(str(large))),
            ("replay 10 + 100 rules", lambda: tapeproxy(str(small), "--scenario", str(rules)))]
    if not args.quick:
        runs.append(("mitmdump -s fixed", mitmdump))
    for name, start in runs:
        server = start()
        try:
            hey(server.port, ca, 500, True)  # warm up
            results[f"{name}, keep-alive"] = hey(server.port, ca, n, True)
            results[f"{name}, new connections"] = hey(server.port, ca, n // 4, False)
            rss[name] = server.rss_peak_mb()
        finally:
            server.stop()

    startup = first_https_response(str(work / "startup-conf"))
    load = cassette_load_seconds(large)

    flat = None
    if not args.quick:
        server = tapeproxy(str(large))
        try:
            hey(server.port, ca, 10_000, True)
            before = server.rss_mb()
            hey(server.port, ca, 100_000, True)
            flat = (before, server.rss_mb())
        finally:
            server.stop()

    print(f"\ntapeproxy benchmark ({'quick' if args.quick else 'full'}; {n} requests per keep-alive run, "
          f"{n // 4} with new connections; 16 connections; HTTPS through the proxy)\n")
    print(f"{'run':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  status codes")
    for name, r in results.items():
        print(f"{name:<44} {r['rps']:>9.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f}  {r['codes']}")
    print("\nratios (same run, same load):")
    ratios = {}
    for mode in ("keep-alive", "new connections"):
        base = results[f"floor, {mode}"]["rps"]
        for name in ("replay 10", "replay 10,000", "replay 10 + 100 rules", "mitmdump -s fixed"):
            key = f"{name}, {mode}"
            if key in results:
                ratios[key] = results[key]["rps"] / base
                print(f"  {key:<42} {ratios[key]:.2f}x the floor")
    if "mitmdump -s fixed, keep-alive" in results:
        cli = results["replay 10, keep-alive"]["rps"] / results["mitmdump -s fixed, keep-alive"]["rps"]
        print(f"  tapeproxy CLI (replay 10) vs mitmdump -s, keep-alive: {cli:.2f}x")
    print(f"\nstart-up to first HTTPS response (tapeproxy demo): {startup:.2f} s")
    print(f"10,000-interaction cassette load + index: {load:.2f} s")
    print("peak RSS: " + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items()))
    if flat:
        print(f"RSS over 100,000 requests (10,000-interaction cassette): {flat[0]:.0f} MB after 10,000, "
              f"{flat[1]:.0f} MB after 110,000")
    shutil.rmtree(work, ignore_errors=True)
    if args.check and ratios["replay 10, keep-alive"] < 0.8:
        print("bench: replay is below 0.8x the floor", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
