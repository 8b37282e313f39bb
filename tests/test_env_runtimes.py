"""Every runtime `tapeproxy env` names reaches the demo through the lines it prints, and nothing
else: the machine's own CA and proxy variables are removed first. (Node's https and fetch:
tests/test_docs.py, on the Node .ci/run installs.)"""

import os
import shlex
import shutil
import subprocess

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


GO = """package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	req, _ := http.NewRequest("GET", os.Args[1], nil)
	req.Header.Set("Authorization", "Bearer demo")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
}
"""


def test_go_net_http_with_the_env_lines(start_cli, confdir, tmp_path):
    go = shutil.which("go")
    if go is None:
        pytest.skip("go is not installed (Debian: apt-get install golang-go; .ci/run installs it)")
    (tmp_path / "main.go").write_text(GO)
    proxy = start_cli("demo")
    env = env_lines(proxy, confdir)
    # Go's own caches, in this test's folder (the machine's HOME may be read-only); no module fetch
    env |= {"GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath"), "GOFLAGS": "-mod=mod"}
    env |= {"GO111MODULE": "off", "GOTOOLCHAIN": "local", "GOPROXY": "off"}
    out = subprocess.run(
        [go, "run", str(tmp_path / "main.go"), TASK], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.stdout.startswith('200 {"id": "11446498"'), out.stdout + out.stderr
    proxy.stop()
    assert served_by_the_simulation(proxy)


JAVA = """
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

public class Main {
    public static void main(String[] args) throws Exception {
        // the https.proxyHost/Port that JAVA_TOOL_OPTIONS sets reach HttpClient through ProxySelector
        HttpClient client = HttpClient.newBuilder().proxy(java.net.ProxySelector.getDefault()).build();
        HttpRequest request = HttpRequest.newBuilder(URI.create(args[0]))
            .header("Authorization", "Bearer demo").build();
        HttpResponse<String> response = client.send(request, HttpResponse.BodyHandlers.ofString());
        System.out.println(response.statusCode() + " " + response.body());
        // and the older HttpsURLConnection, which reads the same properties itself
        var connection = (javax.net.ssl.HttpsURLConnection) URI.create(args[0]).toURL().openConnection();
        connection.setRequestProperty("Authorization", "Bearer demo");
        System.out.println(connection.getResponseCode());
    }
}
"""


def test_java_through_java_tool_options(start_cli, confdir, tmp_path):
    java = shutil.which("java")
    if java is None:
        pytest.skip("java is not installed (Debian: apt-get install default-jdk-headless)")
    source = tmp_path / "Main.java"
    source.write_text(JAVA)
    proxy = start_cli("demo")
    env = env_lines(proxy, confdir)
    assert "-Djavax.net.ssl.trustStore=" in env["JAVA_TOOL_OPTIONS"]
    out = subprocess.run([java, str(source), TASK], env=env, capture_output=True, text=True, timeout=300)
    lines = out.stdout.splitlines()
    assert lines and lines[0].startswith('200 {"id": "11446498"') and lines[1] == "200", out.stdout + out.stderr
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
