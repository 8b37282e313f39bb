"""The offline guarantee: replay never opens a connection to an intercepted host."""

import shutil
import subprocess

import pytest
import requests
from helpers import in_namespace, interaction, write_cassette

from tapeproxy.core.index import ReplayIndex
from tapeproxy.runtime import responses
from tapeproxy.runtime.inprocess import BackgroundProxy


def _can_unshare() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare(), reason="needs unprivileged user+network namespaces (unshare -rn)")
def test_demo_serves_inside_a_namespace_with_only_loopback():
    seen = in_namespace("n", "ip link set lo up", "offline_probe.py", timeout=120)
    assert seen == {
        "hit": [200, "d036638b-1272-4bba-9227-732463823ed3"],
        "miss": [404, "1"],
        "spec": [400, "spec"],  # answered from the spec, inside the namespace too
        "upload": ["upload-las.app.box.com", 201],  # the host the preflight check handed out (issue 27, 15)
        "report": ["reports.office.com", 200],  # where a usage report's 302 leads
        "tunnelled": False,
    }


@pytest.mark.skipif(not _can_unshare(), reason="needs unprivileged user+network namespaces (unshare -rn)")
@pytest.mark.parametrize("options", ["", "--body-files 200"])
def test_record_then_replay_inside_a_namespace_with_only_loopback(options):
    seen = in_namespace("n", "ip link set lo up", "namespace_record_probe.py", options)
    recorded, replayed = seen["recorded"], seen["replayed"]
    assert len(recorded) == 9 and recorded[:3] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert recorded[8][:2] == [201, None] and "scan.pdf" in recorded[8][2]
    assert replayed[8] == recorded[8]  # the upload, with another boundary and key order: a hit
    assert replayed[:6] == recorded[:6]  # sequences, JSON, gzip and binary bodies alike
    # secrets the service sent back replay as their placeholders
    assert replayed[6] == {
        **recorded[6],
        "access_token": "REDACTED-access_token-1",
        "refresh_token": "REDACTED-refresh_token-1",
    }
    assert seen["leaked"] == []
    assert (seen["body_files"] > 0) is bool(options)  # the upload and the binary body, beside the cassette


@pytest.fixture
def local_cassette(tmp_path, upstream):
    # The stand-in server is an intercepted host here: any connection to it is a leak.
    return write_cassette(
        tmp_path / "local.yaml",
        [
            interaction("GET", "https://127.0.0.1/recorded", body={"from": "cassette"}),
        ],
    )


def local_get(proxy_url, ca, upstream, path):
    return requests.get(f"https://127.0.0.1:{upstream.port}{path}", proxies={"https": proxy_url}, verify=ca, timeout=10)


def test_hits_and_misses_open_no_upstream_connection(start_cli, local_cassette, upstream):
    proxy = start_cli("replay", str(local_cassette), "--intercept-host", "127.0.0.1")
    assert local_get(proxy.url, proxy.ca, upstream, "/recorded").json() == {"from": "cassette"}
    r = local_get(proxy.url, proxy.ca, upstream, "/not-recorded")
    assert r.status_code == 404 and r.headers["X-Tapeproxy-Miss"] == "1"
    assert upstream.connections == 0


def test_internal_errors_are_answered_and_never_forwarded(local_cassette, upstream, confdir, monkeypatch):
    settings = {"tapeproxy_cassettes": [str(local_cassette)], "tapeproxy_hosts": ["127.0.0.1"], "confdir": str(confdir)}
    with BackgroundProxy(settings) as proxy:

        def broken_lookup(self, shape):
            raise RuntimeError("simulated bug in replay")

        monkeypatch.setattr(ReplayIndex, "lookup", broken_lookup)
        r = local_get(proxy.url, proxy.ca_path, upstream, "/recorded")
        assert r.status_code == 500 and r.headers["X-Tapeproxy-Error"] == "replay"
        assert "simulated bug in replay" in r.json()["error"]["message"]

        # Every layer failing, even the error answer itself: the guard still refuses upstream.
        def broken_error(*args, **kwargs):
            raise RuntimeError("simulated bug in the error path")

        monkeypatch.setattr(responses, "api_error", broken_error)
        r = local_get(proxy.url, proxy.ca_path, upstream, "/recorded")
        assert r.status_code == 502 and "X-Tapeproxy-Miss" not in r.headers
    assert upstream.connections == 0


def test_other_hosts_are_tunnelled_untouched(start_cli, upstream):
    proxy = start_cli("demo")
    # Verifying against the stand-in's own certificate proves the TLS was not intercepted:
    # by address (no SNI) and by name (SNI "localhost").
    for host in ("127.0.0.1", "localhost"):
        r = requests.get(f"https://{host}:{upstream.port}/", proxies={"https": proxy.url}, verify=str(upstream.cert))
        assert r.status_code == 200 and r.text == "upstream"
    assert upstream.connections == 2


def test_a_users_own_allow_hosts_decides_what_is_intercepted(start_cli, upstream):
    proxy = start_cli("demo", "--set", r"allow_hosts=^127\.0\.0\.1:\d+$")
    # Now intercepted: the certificate is mitmproxy's, which the stand-in's does not verify.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{upstream.port}/", proxies={"https": proxy.url}, verify=str(upstream.cert))
    r = requests.get(f"https://localhost:{upstream.port}/", proxies={"https": proxy.url}, verify=str(upstream.cert))
    assert r.text == "upstream"  # not allowed, so tunnelled


def test_a_users_ignore_hosts_passes_even_an_intercepted_host_through(start_cli, upstream, tmp_path):
    # record mode: offline modes refuse any connection to an intercepted host, ignored or not
    proxy = start_cli(
        "record",
        "--cassette",
        str(tmp_path / "c.yaml"),
        "--intercept-host",
        "127.0.0.1",
        "--set",
        r"ignore_hosts=^127\.0\.0\.1:\d+$",
    )
    r = requests.get(
        f"https://127.0.0.1:{upstream.port}/", proxies={"https": proxy.url}, verify=str(upstream.cert), timeout=10
    )
    assert r.text == "upstream" and upstream.connections == 1
