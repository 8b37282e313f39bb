"""Recording and replaying a big download, with and without --body-files: time, the proxy's peak
RSS and the cassette's size, each download compared with what the stand-in sent.

    python bench/body_files.py [--mb 200]

Without --body-files the download is recorded only because --max-body is raised above it (buffered,
then written into the YAML as !!binary); with it, the body streams into <cassette>.bodies/. Both
run in turn in one run; the last lines give the ratios (body files / inline).
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import CliProxy, LocalHTTPS  # noqa: E402

URL = "https://api.box.com/2.0/files/1/content"


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def download(proxy) -> tuple[float, str]:
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    digest, t = hashlib.sha256(), time.perf_counter()
    with s.get(URL, headers={"Authorization": "Bearer bench"}, stream=True) as r:
        r.raise_for_status()
        for piece in r.iter_content(1 << 20):
            digest.update(piece)
    return time.perf_counter() - t, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    args = parser.parse_args()
    data = os.urandom(args.mb * 1_000_000)
    want = hashlib.sha256(data).hexdigest()

    class Upstream(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            view = memoryview(data)
            for at in range(0, len(data), 1 << 20):
                self.wfile.write(view[at : at + (1 << 20)])

        def log_message(self, *a):
            pass

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        up = LocalHTTPS(tmp_path, Upstream)
        figures: dict[str, list[float]] = {}
        try:
            for label, extra in (
                ("inline (--max-body raised)", ["--max-body", f"{args.mb + 10}m"]),
                ("--body-files 1m", ["--body-files", "1m"]),
            ):
                cassette = tmp_path / f"{len(extra[0])}.yaml"
                proxy = CliProxy(
                    [
                        "record",
                        "--quiet",
                        "--cassette",
                        str(cassette),
                        "--upstream",
                        f"api.box.com=https://127.0.0.1:{up.port}",
                        "--upstream-ca",
                        str(up.cert),
                        *extra,
                    ],
                    tmp_path,
                )
                base = peak_rss_mb(proxy.proc.pid)
                took, got = download(proxy)
                rss = peak_rss_mb(proxy.proc.pid)
                t = time.perf_counter()
                proxy.stop(timeout=300)
                saved = time.perf_counter() - t
                files = sum(p.stat().st_size for p in Path(f"{cassette}.bodies").glob("*"))
                figures.setdefault("recording: peak RSS", []).append(rss)
                figures.setdefault("recording: saving at stop", []).append(saved)
                print(
                    f"record {label}, {args.mb} MB: download {took:.2f} s, same bytes: {got == want}; "
                    f"stop (saving) {saved:.2f} s; peak RSS {rss:.0f} MB (at start {base:.0f}); "
                    f"cassette {cassette.stat().st_size / 1e6:.1f} MB, body files {files / 1e6:.1f} MB"
                )
                t = time.perf_counter()
                proxy = CliProxy(["replay", "--quiet", str(cassette)], tmp_path)
                started = time.perf_counter() - t
                idle = peak_rss_mb(proxy.proc.pid)
                took, got = download(proxy)
                figures.setdefault("replay: start", []).append(started)
                figures.setdefault("replay: peak RSS at start", []).append(idle)
                figures.setdefault("replay: peak RSS after serving", []).append(peak_rss_mb(proxy.proc.pid))
                print(
                    f"replay {label}: start {started:.2f} s, peak RSS then {idle:.0f} MB; download {took:.2f} s, "
                    f"same bytes: {got == want}; peak RSS {peak_rss_mb(proxy.proc.pid):.0f} MB"
                )
                proxy.stop()
        finally:
            up.close()
        for what, (inline, files) in figures.items():
            print(f"{what}: body files / inline = {files / inline:.2f}x")


if __name__ == "__main__":
    main()
