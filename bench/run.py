"""tapeproxy's benchmark: tapeproxy and its floor under the same load, in one run, as ratios.

    python bench/run.py            # the full run (a few minutes)
    python bench/run.py --quick    # shorter loads; --check: exit 1 if default replay < 0.8x the floor (CI)

Servers run side by side and are loaded in turn, round after round; every ratio is the median over
the rounds of (server / floor in the same round). Each server's own CPU time per request is shown
too: on a shared machine it varies less than req/s does. --check decides on a measure of its own
(paired_guard): each guarded run paired with a floor run right beside it.

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
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from process import ReadyProcess  # noqa: E402  (the tests' helper: one way to wait for a ready line)

HERE = Path(__file__).resolve().parent
ADDON = HERE.parent / "addons" / "mitm_addon.py"
GUARD = 0.8  # --check: replay's throughput must stay at or above this fraction of the floor's
URL = "https://graph.microsoft.com/v1.0/print/taskDefinitions/bench/tasks/{}"
AUTH = "Authorization: Bearer bench"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tapeproxy_cmd() -> list[str]:
    script = Path(sys.executable).parent / "tapeproxy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tapeproxy.frontends.cli"]


def write_cassette(path: Path, n: int) -> None:
    body = json.dumps({"id": "bench", "status": {"state": "completed", "description": "recorded"}})
    interactions = [
        {
            "request": {"body": None, "headers": {}, "method": "GET", "uri": URL.format(i)},
            "response": {
                "status": {"code": 200, "message": "OK"},
                "headers": {"Content-Type": ["application/json"]},
                "body": {"string": body},
            },
        }
        for i in range(n)
    ]
    path.write_text(yaml.dump({"interactions": interactions, "version": 1}, Dumper=yaml.CSafeDumper))


def write_scenario(path: Path, rules: int) -> None:
    """Rules that look at every request but (except a late one) never fire: the cost of looking."""
    items = [
        {"match": {"host": "graph.microsoft.com", "method": "GET", "path": f"/v1.0/other/{i}/**"}, "error": "throttled"}
        for i in range(rules - 1)
    ]
    items.append({"match": {"host": "graph.microsoft.com", "path": "/v1.0/never"}, "error": "not_found"})
    path.write_text(yaml.safe_dump({"name": "bench-rules", "rules": items}))


# The servers (one event loop each) share one CPU; hey and this process get the others, so no
# server shares its core with hey's threads in one run and not in the next.
CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
SERVER_CPUS, LOAD_CPUS = (set(CPUS[:1]), set(CPUS[1:])) if len(CPUS) >= 2 else (set(), set())


def _on_server_cpus() -> None:
    os.sched_setaffinity(0, SERVER_CPUS)


class Server(ReadyProcess):
    def __init__(self, name: str, command: list[str], ready: str, env=None):
        self.name = name
        pinned = {"preexec_fn": _on_server_cpus} if SERVER_CPUS else {}
        super().__init__(command, re.escape(ready), timeout=60, env=env, **pinned)

    def rss_peak_mb(self) -> float:
        return self._status_mb("VmHWM:")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def rss_mb(self) -> float:
        return self._status_mb("VmRSS:")

    def _status_mb(self, field: str) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        return super().stop(sig, timeout)


def hey(
    port: int, ca: str, n: int, keepalive: bool, path_index: int = 0, url: str = "", method: str = "GET", body=None
) -> dict:
    command = ["hey", "-n", str(n), "-c", "16", "-x", f"http://127.0.0.1:{port}", "-H", AUTH, "-m", method]
    if body is not None:
        command += ["-d", body, "-T", "application/json"]
    if not keepalive:
        command.append("-disable-keepalive")
    command.append(url or URL.format(path_index))
    env = {**os.environ, "SSL_CERT_FILE": ca}
    out = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = float(re.search(r"50% in ([\d.]+) secs", out).group(1)) * 1000
    p99 = float(re.search(r"99% in ([\d.]+) secs", out).group(1)) * 1000
    codes = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "codes": codes}


def _median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def _median_ratio(runs: list[dict], bases: list[dict], key: str = "rps") -> float:
    return statistics.median(r[key] / b[key] for r, b in zip(runs, bases, strict=False))


# What users run: the default configuration, a line per request (issue 17); --quiet is reported beside it.
GUARDED = ("replay 10, log on, keep-alive", "replay 10,000, log on, keep-alive")


GUARD_PAIRS = 9


def paired_guard(servers: dict, measured, n: int) -> dict[str, float]:
    """The guard's measure: each guarded run right beside a floor run, pair after pair (which goes
    first alternating), and the median of the pairs' req/s ratios. In the rounds the floor ran
    seconds before each guarded run, and a slow spell of a shared machine in between sank one side
    of a ratio only: one build measured 0.68x to 1.02x there from one run to the next."""
    out = {}
    for key in GUARDED:
        ours, floor = servers[key.removesuffix(", keep-alive")], servers["floor"]
        ratios = []
        for i in range(GUARD_PAIRS):
            first, second = (floor, ours) if i % 2 == 0 else (ours, floor)
            a, b = measured(first, n, True), measured(second, n, True)
            base, run = (a, b) if first is floor else (b, a)
            ratios.append(run["rps"] / base["rps"])
        out[key] = statistics.median(ratios)
        print(f"bench: {key} paired: " + " ".join(f"{r:.2f}" for r in sorted(ratios)), file=sys.stderr)
    return out


SPEC_URL = "https://graph.microsoft.com/v1.0/users/48d31887-5fad-4d73-a9f5-3c356e68a038"  # a spec answer


def first_https_response(confdir: str, url: str = "") -> float:
    """Seconds from starting `tapeproxy demo` to its first answered HTTPS request (a simulated task,
    or `url`)."""
    port = free_port()
    subprocess.run([*tapeproxy_cmd(), "ca", "--confdir", confdir], check=True, capture_output=True)  # made once, ever
    start = time.monotonic()
    proc = subprocess.Popen(
        [*tapeproxy_cmd(), "demo", "--port", str(port), "--confdir", confdir, "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    s = requests.Session()
    s.trust_env = False
    try:
        while time.monotonic() - start < 30:
            try:
                r = s.get(
                    url or URL.replace("bench/tasks/{}", "3203656e-6069-4e10-8147-d25290b00a3c"),
                    proxies={"https": f"http://127.0.0.1:{port}"},
                    verify=f"{confdir}/mitmproxy-ca-cert.pem",
                    headers={"Authorization": "Bearer bench"},
                    timeout=5,
                )
                if r.status_code == 200:
                    return time.monotonic() - start
            except requests.RequestException:
                time.sleep(0.01)
        raise RuntimeError("tapeproxy demo answered nothing within 30 s")
    finally:
        proc.terminate()
        proc.wait(15)


LOAD = """
import sys, time
from tapeproxy.core.cassette import load
from tapeproxy.core.index import ReplayIndex
start = time.perf_counter()
ReplayIndex(load(sys.argv[1]))
print(time.perf_counter() - start)
"""


def cassette_load_seconds(path: Path) -> float:
    """Median of three loads, each in a fresh process (as a starting proxy loads it)."""
    times = [
        float(
            subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, check=True).stdout
        )
        for _ in range(3)
    ]
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short loads (CI)")
    parser.add_argument("--check", action="store_true", help="exit 1 if replay (log on, the default) < 0.8x the floor")
    parser.add_argument("--world", action="store_true", help="the world benchmark alone (bench/world.py)")
    args = parser.parse_args()
    if LOAD_CPUS:
        os.sched_setaffinity(0, LOAD_CPUS)  # hey, its children, run here; the servers pin themselves
    if not shutil.which("hey"):
        print("bench: needs `hey` (apt-get install hey)", file=sys.stderr)
        return 2
    rounds_count = 5 if args.quick else 7
    n = 512 if args.quick else 2048  # per round; n and n // 4 are multiples of hey's 16 connections
    work = Path(tempfile.mkdtemp(prefix="tapeproxy-bench-"))
    confdir = str(work / "conf")
    subprocess.run([*tapeproxy_cmd(), "ca", "--confdir", confdir], check=True, capture_output=True)
    ca = f"{confdir}/mitmproxy-ca-cert.pem"
    small, large, rules = work / "small.yaml", work / "large.yaml", work / "rules.yaml"
    write_cassette(small, 10)
    write_cassette(large, 10_000)
    write_scenario(rules, 100)

    def tapeproxy(*extra, quiet: bool = True) -> Server:
        """`tapeproxy replay`; quiet=False is the default configuration, a line per request."""
        port = free_port()
        s = Server(
            "tapeproxy",
            [*tapeproxy_cmd(), "replay", *extra, "--port", str(port), "--confdir", confdir]
            + (["--quiet"] if quiet else []),
            "tapeproxy replay: proxy",
        )
        s.port = port
        return s

    def floor() -> Server:
        port = free_port()
        s = Server("floor", [sys.executable, str(HERE / "floor.py"), str(port), confdir], "listening")
        s.port = port
        return s

    def mitmdump(script: Path, *sets: str) -> Server:
        port = free_port()
        exe = Path(sys.executable).parent / "mitmdump"
        command = [
            str(exe),
            "-s",
            str(script),
            "--listen-host",
            "127.0.0.1",
            "--listen-port",
            str(port),
            "--set",
            f"confdir={confdir}",
            "--set",
            "connection_strategy=lazy",
            "--set",
            "flow_detail=0",
        ]
        for spec in sets:
            command += ["--set", spec]
        s = Server("mitmdump", command, "proxy listening")
        s.port = port
        return s

    def measured(server: Server, requests: int, keepalive: bool, **load) -> dict:
        """hey's figures, plus the server's own CPU time per request (steadier on a shared machine)."""
        before = server.cpu_seconds()
        result = hey(server.port, ca, requests, keepalive, **load)
        result["cpu_ms"] = (server.cpu_seconds() - before) * 1000 / requests
        return result

    def world_benchmark() -> list[str]:
        """bench/world.py's loads, on the demo with 1,000 users and on the spec answers, beside the floor."""
        import world

        world_file, empty = work / "world.yaml", work / "empty.yaml"
        world.write_world(world_file)
        empty.write_text("interactions: []\nversion: 1\n")
        started = {}
        try:
            started["floor"] = floor()
            port = free_port()
            started["world"] = Server(
                "tapeproxy",
                [*tapeproxy_cmd(), "demo", "--world", str(world_file), "--port", str(port), "--confdir", confdir]
                + ["--quiet"],
                "tapeproxy demo: proxy",
            )
            started["world"].port = port
            started["spec"] = tapeproxy(str(empty), "--spec")
            for _name, server, method, url, body in world.LOADS:  # warm up: the models load on first use
                hey(started[server].port, ca, 160, True, url=url, method=method, body=body)
            results = world.measure(started, lambda s, k, **load: measured(s, k, True, **load), rounds_count, n)
        finally:
            for server in started.values():
                server.stop()
        return world.report(results, rounds_count, n)

    if args.world:
        print("\n".join(world_benchmark()))
        shutil.rmtree(work, ignore_errors=True)
        return 0

    # All servers run side by side and are loaded in turn, round after round; each ratio is the
    # median over rounds of (server / floor in the same round), so drift in the machine's speed
    # during the run does not favour whoever ran first.
    runs = [
        ("floor", floor),
        ("replay 10", lambda: tapeproxy(str(small))),
        ("replay 10,000", lambda: tapeproxy(str(large))),
        # what users run: no --quiet, a line per request (read by this process, as a terminal would)
        ("replay 10, log on", lambda: tapeproxy(str(small), quiet=False)),
        ("replay 10,000, log on", lambda: tapeproxy(str(large), quiet=False)),
        ("replay 10 + 100 rules", lambda: tapeproxy(str(small), "--scenario", str(rules))),
    ]
    if not args.quick:
        # The same tapeproxy addon and cassette under mitmdump's master, and the floor's addon too.
        runs.append(("mitmdump -s tapeproxy, 10", lambda: mitmdump(ADDON, f"tapeproxy_cassettes={small}")))
        runs.append(("mitmdump -s fixed", lambda: mitmdump(HERE / "fixed_addon.py")))
    servers = {}
    try:
        for name, start in runs:
            servers[name] = start()
        for server in servers.values():
            hey(server.port, ca, 480, True)  # warm up
        rounds: dict[str, list[dict]] = {}

        def measure_rounds() -> None:
            rounds.clear()
            for _ in range(rounds_count):
                for name, server in servers.items():
                    rounds.setdefault(f"{name}, keep-alive", []).append(measured(server, n, True))
                    rounds.setdefault(f"{name}, new connections", []).append(measured(server, n // 4, False))

        measure_rounds()
        guard: dict[str, float] = {}
        below: list[str] = []
        if args.check:
            for attempt in range(3):  # a slow spell can still sink one measure: measured again, twice at most
                guard = paired_guard(servers, measured, 2 * n)
                below = [k for k, ratio in guard.items() if ratio < GUARD]
                if not below or attempt == 2:
                    break
                said = ", ".join(f"{k} {guard[k]:.2f}x" for k in below)
                print(f"bench: replay measured below the guard ({said}); measuring again", file=sys.stderr)
        rss = {name: server.rss_peak_mb() for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
    results = {key: _median_run(runs_) for key, runs_ in rounds.items()}

    startup = statistics.median(first_https_response(str(work / f"startup-conf-{i}")) for i in range(3))
    # the spec models load on the first request that needs one: this one pays for it
    spec_startup = statistics.median(first_https_response(str(work / f"startup-conf-{i}"), SPEC_URL) for i in range(3))
    per_test = None
    if not args.quick:  # a test suite on the pytest plugin next to the same suite on vcrpy (issue 17)
        import pytest_cost

        per_test = pytest_cost.report(pytest_cost.measure(200, 3), 200, 3)
    load = cassette_load_seconds(large)
    world_lines = world_benchmark() if not args.quick else []

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

    print(
        f"\ntapeproxy benchmark ({'quick' if args.quick else 'full'}; {rounds_count} rounds of {n} requests per "
        f"keep-alive run and {n // 4} with new connections; 16 connections; HTTPS through the proxy; "
        f"medians over the rounds)\n"
    )
    print(f"{'run':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11}  status codes")
    for name, r in results.items():
        print(f"{name:<44} {r['rps']:>9.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['cpu_ms']:>11.2f}  {r['codes']}")
    print("\nratios to the floor (same run, same load; medians over the rounds):")
    print(f"  {'':<42} {'req/s':>7} {'CPU time':>9}")
    ratios = {}
    for mode in ("keep-alive", "new connections"):
        for name in (
            "replay 10",
            "replay 10,000",
            "replay 10, log on",
            "replay 10,000, log on",
            "replay 10 + 100 rules",
            "mitmdump -s tapeproxy, 10",
            "mitmdump -s fixed",
        ):
            key = f"{name}, {mode}"
            if key in rounds:
                ratios[key] = _median_ratio(rounds[key], rounds[f"floor, {mode}"])
                cpu = _median_ratio(rounds[f"floor, {mode}"], rounds[key], "cpu_ms")  # floor's / ours: higher is better
                print(f"  {key:<42} {ratios[key]:>6.2f}x {cpu:>8.2f}x")
    if "mitmdump -s tapeproxy, 10, keep-alive" in rounds:
        for mode in ("keep-alive", "new connections"):
            cli = _median_ratio(rounds[f"replay 10, {mode}"], rounds[f"mitmdump -s tapeproxy, 10, {mode}"])
            print(f"  tapeproxy CLI vs mitmdump -s with the same addon and cassette, {mode}: {cli:.2f}x")
    if per_test:
        print("\n" + "\n".join(per_test))
    if world_lines:
        print("\n" + "\n".join(world_lines))
    print(f"\nstart-up to first HTTPS response (tapeproxy demo, median of 3): {startup:.2f} s")
    print(f"start-up to first spec answer (Graph GET /v1.0/users/{{id}}, median of 3): {spec_startup:.2f} s")
    print(f"10,000-interaction cassette load + index (median of 3 fresh processes): {load:.2f} s")
    print("peak RSS: " + ", ".join(f"{k} {v:.0f} MB" for k, v in rss.items()))
    if flat:
        print(
            f"RSS over 100,000 requests (10,000-interaction cassette): {flat[0]:.0f} MB after 10,000, "
            f"{flat[1]:.0f} MB after 110,000"
        )
    shutil.rmtree(work, ignore_errors=True)
    if args.check:
        print(
            f"guard (each run paired with a floor run, {GUARD_PAIRS} pairs, median): "
            + ", ".join(f"{k} {ratio:.2f}x" for k, ratio in guard.items())
        )
        if below:
            print(
                f"bench: below {GUARD}x the floor: " + ", ".join(f"{k} {guard[k]:.2f}x" for k in below), file=sys.stderr
            )
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
