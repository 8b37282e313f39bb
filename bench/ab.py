"""Before and after a change: server CPU per replayed request (and hey's p99) of this tree and of another commit,
quiet and with the default log, loaded in turn round after round (one run, same machine).

    python bench/ab.py d2ccb10             # this working tree against commit d2ccb10
    python bench/ab.py HEAD~1 --interactions 10000 --rounds 8

The other commit is checked out into a temporary git worktree and run from there (its `addons/`
as the `tapeproxy` package), with this Python and its dependencies. CPU time is the server's own
(/proc), steadier than throughput on a shared machine. Lower is better.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import run  # noqa: E402  (the benchmark's cassette, server and hey helpers)

REQUESTS = 3000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("commit", help="the commit to compare with (e.g. HEAD~1)")
    parser.add_argument("--interactions", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        tree = tmp / "tree"
        subprocess.run(
            ["git", "-C", str(HERE.parent), "worktree", "add", "-q", "--detach", str(tree), args.commit], check=True
        )
        try:
            (tmp / "pkg").mkdir()
            (tmp / "pkg" / "tapeproxy").symlink_to(tree / "addons")
            print("\n".join(compare(tmp, args.commit, args.interactions, args.rounds)))
        finally:
            subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(tree)], check=False)
    return 0


def compare(tmp: Path, commit: str, interactions: int, rounds: int) -> list[str]:
    cassette = tmp / "bench.yaml"
    run.write_cassette(cassette, interactions)
    confdir = str(tmp / "conf")
    subprocess.run([*run.tapeproxy_cmd(), "ca", "--confdir", confdir], check=True, capture_output=True)
    ca = str(Path(confdir) / "mitmproxy-ca-cert.pem")

    def start(name: str, quiet: bool, other: bool) -> run.Server:
        port = run.free_port()
        command = [sys.executable, "-m", "tapeproxy.frontends.cli", "replay", str(cassette), "--port", str(port)]
        command += ["--confdir", confdir, *(["--quiet"] if quiet else [])]
        env = {**os.environ, "PYTHONPATH": str(tmp / "pkg")} if other else None
        server = run.Server(name, command, "tapeproxy replay: proxy", env=env)
        server.port = port
        return server

    plan = [("this tree, quiet", True, False), ("this tree, log on", False, False)]
    plan += [(f"{commit}, quiet", True, True), (f"{commit}, log on", False, True)]
    servers: dict[str, run.Server] = {}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in plan}
    p99: dict[str, list[float]] = {name: [] for name, _, _ in plan}
    try:
        for name, quiet, other in plan:
            servers[name] = start(name, quiet, other)
        for server in servers.values():
            run.hey(server.port, ca, 500, True)  # warm up
        for _ in range(rounds):
            for name, server in servers.items():
                before = server.cpu_seconds()
                p99[name].append(run.hey(server.port, ca, REQUESTS, True)["p99_ms"])
                cpu[name].append((server.cpu_seconds() - before) * 1e6 / REQUESTS)
    finally:
        for server in servers.values():
            server.stop()
    median = {name: statistics.median(v) for name, v in cpu.items()}
    lines = [f"server CPU per request, {interactions} interactions, keep-alive (median of {rounds} rounds):"]
    lines += [f"  {name:<32} {us:6.0f} us   p99 {statistics.median(p99[name]):5.1f} ms" for name, us in median.items()]
    for label in ("quiet", "log on"):
        now, then = median[f"this tree, {label}"], median[f"{commit}, {label}"]
        lines.append(f"  {label}: this tree / {commit} = {now / then:.2f}x CPU")
    return lines


if __name__ == "__main__":
    sys.exit(main())
