"""Every runtime `tapeproxy env` names reaches the demo through the lines it prints, and nothing
else: the machine's own CA and proxy variables are removed first. Go and Java run the examples of
docs/clients.md. (Node's https and fetch: tests/test_docs.py, on the Node .ci/run installs.)"""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import tapeproxy_cmd

TASK = "https://api.box.com/2.0/tasks/11446498"
MACHINE = ("PROXY", "CA_BUNDLE", "SSL_CERT", "NODE_EXTRA_CA_CERTS", "JAVA_TOOL_OPTIONS", "NODE_OPTIONS")


def env_lines(proxy, confdir) -> dict[str, str]:
    """What `tapeproxy env` prints, as a shell would take it (eval of its export lines)."""
    out = subprocess.run(
        [*tapeproxy_cmd(), "env", "--proxy", proxy.url, "--confdir", str(confdir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    clean = {k: v for k, v in os.environ.items() if not any(m in k.upper() for m in MACHINE)}
    said = subprocess.run(
        ["bash", "-c", f"{out.stdout}\nenv -0"], env=clean, capture_output=True, text=True, timeout=30, check=True
    ).stdout
    return dict(item.split("=", 1) for item in said.split("\0") if "=" in item)


def served_by_the_simulation(proxy) -> bool:
    return f"GET {TASK} -> 200 simulation" in proxy.output


def test_curl_with_the_env_lines(start_cli, confdir):
    proxy = start_cli("demo")
    env = env_lines(proxy, confdir)
    out = subprocess.run(
        ["curl", "-sS", "-H", "Authorization: Bearer demo", TASK], env=env, capture_output=True, text=True, timeout=60
    )
    assert '"id": "11446498"' in out.stdout, out.stderr
    proxy.stop()
    assert served_by_the_simulation(proxy)


def docs_block(lang: str) -> str:
    """The docs/clients.md example of this language: the test runs what a user copies."""
    text = (Path(__file__).parent.parent / "docs" / "clients.md").read_text()
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)[0]


def test_go_net_http_with_the_env_lines(start_cli, confdir, tmp_path):
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed (Debian: apt-get install golang-go; .ci/run installs it)")
    (tmp_path / "main.go").write_text(docs_block("go"))
    proxy = start_cli("demo")
    env = env_lines(proxy, confdir)
    # Go's own caches, in this test's folder (the machine's HOME may be read-only); no module fetch
    env |= {"GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath"), "GOFLAGS": "-mod=mod"}
    env |= {"GO111MODULE": "off", "GOTOOLCHAIN": "local", "GOPROXY": "off"}
    out = subprocess.run([go, "run", str(tmp_path / "main.go")], env=env, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "200 Legal review", out.stdout + out.stderr
    proxy.stop()
    assert served_by_the_simulation(proxy)


def test_java_through_java_tool_options(start_cli, confdir, tmp_path):
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not installed (Debian: apt-get install default-jdk-headless)")
    source = tmp_path / "Main.java"
    source.write_text(docs_block("java"))
    proxy = start_cli("demo")
    env = env_lines(proxy, confdir)
    assert "-Djavax.net.ssl.trustStore=" in env["JAVA_TOOL_OPTIONS"]
    out = subprocess.run([java, str(source)], env=env, capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    assert [line.split(" {", 1)[0] for line in lines] == ["HttpClient 200", "HttpsURLConnection 200"], out.stderr
    assert all('"message": "Please review' in line or '"id": "11446498"' in line for line in lines), out.stdout
    assert "Picked up JAVA_TOOL_OPTIONS" in out.stderr  # what the JVM read: the env line, nothing else
    proxy.stop()
    assert proxy.output.count(f"GET {TASK} -> 200 simulation") == 2
    assert shlex.split(env["JAVA_TOOL_OPTIONS"])[0] == f"-Dhttps.proxyHost={proxy.url.split('//')[1].split(':')[0]}"


def test_the_java_trust_store_is_one_keytool_reads_and_checks(tmp_path):
    import ssl

    from tapeproxy.core import jks
    from tapeproxy.runtime.ca import ensure_ca

    keytool = shutil.which("keytool")
    if keytool is None:
        pytest.skip("keytool (Java) is not installed")
    ca = ensure_ca(str(tmp_path))
    der = ssl.PEM_cert_to_DER_cert(ca.read_text())
    store = tmp_path / "store.jks"
    store.write_bytes(jks.trust_store([der, der], 1_700_000_000_000))
    # with keytool's default password the digest is checked: a wrong byte fails it
    listed = subprocess.run(
        [keytool, "-list", "-keystore", str(store), "-storepass", "changeit", "-storetype", "JKS"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Your keystore contains 2 entries" in listed.stdout and "trustedCertEntry" in listed.stdout, listed
    broken = bytearray(store.read_bytes())
    broken[-1] ^= 1
    store.write_bytes(bytes(broken))
    refused = subprocess.run(
        [keytool, "-list", "-keystore", str(store), "-storepass", "changeit", "-storetype", "JKS"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode != 0
