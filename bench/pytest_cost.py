"""What a test costs on tapeproxy's pytest plugin, next to the same tests on vcrpy, in one run.

    python bench/pytest_cost.py            # 200 tests per suite, 3 runs of each
    python bench/pytest_cost.py --tests 50 --runs 1

It writes three suites of the same shape into a temporary folder and times `python -m pytest` on
each, in turn, round after round:
  empty     : the tests, doing nothing (pytest's own cost per test);
  vcrpy     : each test replays its cassette with vcrpy (vcr.use_cassette, what pytest-recording's
              marker does), opens a requests.Session and makes 2 requests;
  fixture   : each test marks its cassette for the `tapeproxy` fixture and does nothing more
              (the plugin's own cost: the session's proxy start-up shared out, then per test);
  tapeproxy : the same, plus the same 2 requests through the proxy (a new Session: a new
              connection, CONNECT and TLS);
  env       : the tapeproxy test as SDK tests run: the client configured by `tapeproxy.env`
              (HTTPS_PROXY, REQUESTS_CA_BUNDLE...), not by arguments;
  env, file : the same with REQUESTS_CA_BUNDLE naming the CA bundle file, as before issue 17
              (requests loads a file anew for every new connection);
  floor     : the same 2 requests through bench/floor.py (lean mitmproxy, a fixed answer, started
              once per session): what any proxy of mitmproxy's costs per test, tapeproxy or not.
The cost per test is (suite - empty) / tests: what the tool adds. Medians over the runs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from helpers import interaction, write_cassette  # noqa: E402  (the tests' cassette writer)

# two requests to one host: one connection per test (CONNECT and TLS through the proxy)
URLS = ("https://api.box.com/2.0/tasks/{n}", "https://api.box.com/2.0/tasks/{n}/assignments")

EMPTY = """
def test_{n}():
    pass
"""

VCRPY = """
def test_{n}():
    with vcr.use_cassette(str(HERE / "cassettes" / "test_{n}.yaml"), record_mode="none"):
        s = requests.Session()
        assert s.get({url0!r}, headers=AUTH).status_code == 200
        assert s.get({url1!r}, headers=AUTH).status_code == 200
"""

FIXTURE = """
@pytest.mark.tapeproxy(cassette="cassettes/test_{n}.yaml")
def test_{n}(tapeproxy):
    pass
"""

TAPEPROXY = """
@pytest.mark.tapeproxy(cassette="cassettes/test_{n}.yaml")
def test_{n}(tapeproxy):
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {{"https": tapeproxy.url}}, tapeproxy.ca_path
    assert s.get({url0!r}, headers=AUTH).status_code == 200
    assert s.get({url1!r}, headers=AUTH).status_code == 200
"""

ENV = """
@pytest.mark.tapeproxy(cassette="cassettes/test_{n}.yaml")
def test_{n}(tapeproxy, monkeypatch):
    for name, value in tapeproxy.env.items():
        monkeypatch.setenv(name, value){file}
    s = requests.Session()
    assert s.get({url0!r}, headers=AUTH).status_code == 200
    assert s.get({url1!r}, headers=AUTH).status_code == 200
"""
ENV_DIR = ENV.replace("{file}", "")
ENV_FILE = ENV.replace("{file}", '\n    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tapeproxy.env["SSL_CERT_FILE"])')

# the tapeproxy test word for word, through the floor's proxy: the two must differ in the proxy only
MARKER = '@pytest.mark.tapeproxy(cassette="cassettes/test_{n}.yaml")\n'
FLOOR = TAPEPROXY.replace(MARKER, "").replace("tapeproxy", "floor")

FLOOR_CONFTEST = """
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

BENCH = Path({bench!r})
sys.path.insert(0, str(BENCH.parent / "tests"))
from process import ReadyProcess  # the one way to start a proxy and wait for its ready line


@pytest.fixture(scope="session")
def floor():
    confdir = tempfile.mkdtemp()
    subprocess.run([sys.executable, "-m", "tapeproxy.frontends.cli", "ca", "--confdir", confdir], check=True,
                   capture_output=True)
    proc = ReadyProcess([sys.executable, str(BENCH / "floor.py"), "0", confdir], r"listening (\\d+)", cwd=BENCH)
    yield SimpleNamespace(url=f"http://127.0.0.1:{{proc.match.group(1)}}",
                          ca_path=str(Path(confdir) / "mitmproxy-ca-cert.pem"))
    proc.stop()
"""

HEADER = """
from pathlib import Path

import pytest
import requests
import vcr

HERE = Path(__file__).parent
AUTH = {"Authorization": "Bearer bench"}
"""


def write_suite(folder: Path, template: str, tests: int) -> None:
    (folder / "cassettes").mkdir(parents=True)
    parts = [HEADER]
    for n in range(tests):
        urls = [u.format(n=n) for u in URLS]
        body = {"id": str(n), "type": "task", "message": "bench"}
        write_cassette(folder / "cassettes" / f"test_{n}.yaml", [interaction("GET", u, body=body) for u in urls])
        parts.append(template.format(n=n, url0=urls[0], url1=urls[1]))
    (folder / "test_suite.py").write_text("\n".join(parts))
    if template is FLOOR:
        (folder / "conftest.py").write_text(FLOOR_CONFTEST.format(bench=str(Path(__file__).resolve().parent)))


def run_suite(folder: Path, tests: int) -> float:
    """Seconds for the whole pytest run, start-up included; raises unless every test passed."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
    )
    took = time.monotonic() - began
    if done.returncode != 0 or f"{tests} passed" not in done.stdout:
        raise RuntimeError(f"{folder.name}: not every test passed\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return took


def measure(tests: int, runs: int) -> dict[str, float]:
    """Median seconds of each suite (empty, vcrpy, fixture, tapeproxy) over `runs` rounds, after a warm-up."""
    templates = {
        "empty": EMPTY,
        "vcrpy": VCRPY,
        "fixture": FIXTURE,
        "tapeproxy": TAPEPROXY,
        "env": ENV_DIR,
        "env, file": ENV_FILE,
        "floor": FLOOR,
    }
    with tempfile.TemporaryDirectory() as tmp:
        suites = {name: Path(tmp) / name.replace(", ", "-") for name in templates}
        for name, template in templates.items():
            write_suite(suites[name], template, tests)
        for folder in suites.values():  # a warm-up round: imports and bytecode cached, as in CI
            run_suite(folder, tests)
        times: dict[str, list[float]] = {name: [] for name in suites}
        for _ in range(runs):
            for name, folder in suites.items():
                times[name].append(run_suite(folder, tests))
    return {name: statistics.median(t) for name, t in times.items()}


def report(median: dict[str, float], tests: int, runs: int) -> list[str]:
    per_test = {name: (median[name] - median["empty"]) / tests * 1000 for name in median if name != "empty"}
    lines = [f"pytest, {tests} tests of 2 requests each (median of {runs} runs):"]
    for name, seconds in median.items():
        lines.append(
            f"  {name:<10} {seconds:6.2f} s" + (f"  {per_test[name]:5.1f} ms per test" if name in per_test else "")
        )
    lines.append(f"  tapeproxy / vcrpy, per test: {per_test['tapeproxy'] / per_test['vcrpy']:.2f}x")
    lines.append(f"  tapeproxy / floor, per test: {per_test['tapeproxy'] / per_test['floor']:.2f}x")
    lines.append(f"  env / vcrpy, per test: {per_test['env'] / per_test['vcrpy']:.2f}x")
    lines.append(f"  env, file / env, per test: {per_test['env, file'] / per_test['env']:.2f}x")
    lines.append(
        f"  floor / vcrpy, per test: {per_test['floor'] / per_test['vcrpy']:.2f}x (a connection through any proxy)"
    )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("\n".join(report(measure(args.tests, args.runs), args.tests, args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
