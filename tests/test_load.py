"""Load: 20,000 requests over 50 concurrent connections against `tapeproxy demo`, from `hey`.

No request fails, every answer is the simulated task, and memory stays flat (bounded journal)."""

import os
import re
import shutil
import subprocess

import pytest
from helpers import BOX_TASK_URL as BOX_TASK
from helpers import CliProxy


def _rss_mb(pid: int) -> float:
    status = open(f"/proc/{pid}/status").read()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024


def _hey(proxy: CliProxy, n: int) -> str:
    env = {**os.environ, "SSL_CERT_FILE": proxy.ca}
    out = subprocess.run(
        ["hey", "-n", str(n), "-c", "50", "-x", proxy.url, "-H", "Authorization: Bearer load", BOX_TASK],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.skipif(not shutil.which("hey"), reason="needs hey (apt-get install hey; .ci/run installs it)")
def test_twenty_thousand_requests_over_fifty_connections(confdir):
    proxy = CliProxy(["demo", "--quiet"], confdir)
    try:
        _hey(proxy, 2000)  # warm up: certificates, caches, the journal filling towards its bound
        before = _rss_mb(proxy.proc.pid)
        report = _hey(proxy, 20_000)
        after = _rss_mb(proxy.proc.pid)
        assert re.search(r"\[200\]\s+20000 responses", report), report
        assert "Error distribution" not in report, report
        assert after - before < 25, f"RSS grew from {before:.0f} MB to {after:.0f} MB over 20,000 requests"
    finally:
        assert proxy.stop() == 0
