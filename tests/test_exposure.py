"""Who can reach a tapeproxy: loopback by default, others only with credentials, an opt-in or a token."""

import stat
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
import requests
from helpers import AUTH, BOX_TASK_URL, CliProxy, in_namespace, run_cli
from process import ReadyProcess
from test_offline import _can_unshare

HERE = Path(__file__).parent


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3"])
def test_a_non_loopback_address_needs_credentials_or_an_explicit_opt_in(tmp_path, host):
    out = run_cli(["demo", "--host", host, "--port", "0", "--confdir", str(tmp_path)])
    assert out.returncode == 2, out.stdout + out.stderr
    assert "--proxy-auth USER:PASS" in out.stderr and "--allow-remote" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_proxy_auth_needs_a_user_and_a_password(tmp_path):
    out = run_cli(["demo", "--host", "0.0.0.0", "--proxy-auth", "justaname", "--confdir", str(tmp_path)])
    assert out.returncode == 2 and "expected USER:PASS" in out.stderr


def test_mitmproxys_own_proxyauth_option_still_asks_for_credentials(tmp_path):
    proxy = CliProxy(["demo", "--set", "proxyauth=tester:s3cret"], tmp_path)
    try:
        get = partial(requests.get, BOX_TASK_URL, verify=proxy.ca, headers=AUTH, timeout=10)
        with pytest.raises(requests.exceptions.ProxyError, match="407"):
            get(proxies={"https": proxy.url})
        with_credentials = proxy.url.replace("http://", "http://tester:s3cret@")
        assert get(proxies={"https": with_credentials}).status_code == 200
    finally:
        proxy.stop()


@pytest.mark.skipif(not _can_unshare(), reason="needs unprivileged user+network namespaces (unshare -rn)")
def test_remote_callers_get_what_their_credentials_allow():
    seen = in_namespace("n", "ip link set lo up && ip addr add 10.9.8.7/32 dev lo", "exposure_probe.py")
    assert seen == {
        "control from remote, no token": 403,
        "control from remote, wrong token": 403,
        "control from remote, token": 200,
        "control from loopback": 200,
        "api from remote, allowed": 200,
        "host's loopback service from remote": 502,  # an open proxy into the host's own services: refused
        "host's own-address service from remote": 502,
        "host's loopback service from loopback": 200,
        "host's loopback service from remote, allowed": 200,
        "api from remote, no credentials": "407",
        "api from remote, credentials": 200,
    }


def test_mitmdump_users_listen_on_loopback_unless_they_say_otherwise(tmp_path):
    mitmdump = Path(sys.executable).parent / "mitmdump"
    addon = HERE.parent / "addons" / "mitm_addon.py"
    base = [str(mitmdump), "-s", str(addon), "--set", f"confdir={tmp_path}", "--listen-port", "0"]
    proc = ReadyProcess(base, r"listening at (\S+)")
    try:
        assert proc.match is not None and proc.match.group(1).startswith("127.0.0.1:"), proc.output
    finally:
        proc.stop()
    out = subprocess.run([*base, "--listen-host", "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--allow-remote" in out.stdout + out.stderr


def test_the_ca_private_key_is_readable_by_its_owner_only(tmp_path):
    out = run_cli(["ca", "--confdir", str(tmp_path / "conf")])
    assert out.returncode == 0, out.stderr
    for key_file in ("mitmproxy-ca.pem", "mitmproxy-ca.p12"):
        mode = stat.S_IMODE((tmp_path / "conf" / key_file).stat().st_mode)
        assert mode == 0o600, f"{key_file}: {oct(mode)}"
