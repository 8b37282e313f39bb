"""The reference in docs/ stays true: every example loads, every CLI option is documented."""

import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT, tapeproxy_cmd

from tapeproxy.core import cassette, scenario
from tapeproxy.frontends.cli import build_parser
from tapeproxy.sim.world import World

DOCS = ROOT / "docs"
LOADERS = {"scenarios.md": scenario.load, "world.md": World.load, "cassettes.md": cassette.load}


@pytest.mark.parametrize("doc", sorted(LOADERS))
def test_every_yaml_example_loads(doc, tmp_path):
    blocks = re.findall(r"```yaml\n(.*?)```", (DOCS / doc).read_text(), re.S)
    assert blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"example-{i}.yaml"
        path.write_text(block)
        LOADERS[doc](path)  # raises with file:line on any mistake


def test_every_cli_option_is_documented():
    text = (DOCS / "cli.md").read_text() + (ROOT / "README.md").read_text()
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert f"`{name}" in text, name
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in text, f"{name} {flag} is not documented"


def _blocks(doc, lang):
    return re.findall(rf"```{lang}\n(.*?)```", (DOCS / doc).read_text(), re.S)


def test_the_client_examples_run_against_the_demo(start_cli, confdir, tmp_path):
    from tapeproxy.runtime.ca import client_env

    proxy = start_cli("demo")
    env = {**os.environ, **client_env(proxy.url, str(confdir)), "NO_PROXY": ""}
    for i, code in enumerate(_blocks("clients.md", "python")):
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"python example {i}:\n{out.stderr}"
        assert out.stdout.strip(), f"python example {i} printed nothing"
    for code in _blocks("clients.md", "sh"):
        out = subprocess.run(["sh", "-c", code], env=env, capture_output=True, text=True, timeout=60)
        assert '"id": "11446498"' in out.stdout, out.stderr


def test_the_node_example_runs_against_reverse_mode(start_cli, tmp_path):
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    proxy = start_cli("demo", "--reverse", "https://graph.microsoft.com")
    script = tmp_path / "example.mjs"
    script.write_text(next(b for b in _blocks("clients.md", "js") if "GRAPH_BASE_URL" in b))
    out = subprocess.run(
        ["node", str(script)],
        env={**os.environ, "GRAPH_BASE_URL": proxy.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "4 task definitions", out.stderr


def _node(min_versions=None):
    """The Node to test with ($TAPEPROXY_TEST_NODE, which .ci/run sets, else node on PATH) and its version."""
    node = os.environ.get("TAPEPROXY_TEST_NODE") or shutil.which("node")
    if not node:
        pytest.skip("no node: set TAPEPROXY_TEST_NODE (.ci/run installs node@24 from npm)")
    version = subprocess.run([node, "-p", "process.versions.node"], capture_output=True, text=True).stdout.strip()
    return node, tuple(int(x) for x in version.split("."))


def _honours_env_proxy(version) -> bool:
    return version >= (24, 5) or (22, 21) <= version < (23,)


def test_node_https_and_fetch_go_through_the_proxy_with_the_env_lines(start_cli, confdir, tmp_path):
    """Issue 27, 19: the README said the eval line points Node at the proxy; Node 20 ignores proxy
    variables. Node 22.21+ and 24.5+ honour them with NODE_USE_ENV_PROXY=1, which env exports."""
    node, version = _node()
    if not _honours_env_proxy(version):
        pytest.skip(f"node {version} ignores proxy variables; TAPEPROXY_TEST_NODE names one that does (.ci/run)")
    proxy = start_cli("demo")
    script = tmp_path / "client.cjs"
    script.write_text(next(b for b in _blocks("clients.md", "js") if "node:https" in b))
    env_cmd = shlex.join([*tapeproxy_cmd(), "env", "--proxy", proxy.url, "--confdir", str(confdir)])
    clean = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper() and k != "NODE_OPTIONS"}
    out = subprocess.run(
        ["bash", "-c", f'eval "$({env_cmd})" && {shlex.quote(node)} {shlex.quote(str(script))}'],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sorted(out.stdout.split("\n")[:2]) == ["fetch 200", "https 200"], out.stdout + out.stderr
    assert proxy.output.count("GET https://api.box.com/2.0/tasks/11446498 -> 200") == 2, proxy.output


def test_node_20_https_and_fetch_go_through_the_proxy_with_the_documented_preload(start_cli, confdir, tmp_path):
    node = shutil.which("node")
    modules = os.environ.get("TAPEPROXY_TEST_NODE_MODULES")  # undici and global-agent (.ci/run installs them)
    if not node or not modules:
        pytest.skip("needs node and TAPEPROXY_TEST_NODE_MODULES naming node_modules with undici and global-agent")
    proxy = start_cli("demo")
    text = (DOCS / "clients.md").read_text()
    preload = tmp_path / "proxy-preload.cjs"
    preload.write_text(text.split("// proxy-preload.cjs\n", 1)[1].split("```", 1)[0])
    script = tmp_path / "client.cjs"
    script.write_text(next(b for b in _blocks("clients.md", "js") if "node:https" in b))
    env_cmd = shlex.join([*tapeproxy_cmd(), "env", "--proxy", proxy.url, "--confdir", str(confdir)])
    clean = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper() and k != "NODE_OPTIONS"}
    run = f'eval "$({env_cmd})" && NODE_OPTIONS="--require {preload}" {shlex.quote(node)} {script}'
    out = subprocess.run(["bash", "-c", run], env={**clean, "NODE_PATH": modules}, capture_output=True, text=True)
    assert sorted(out.stdout.split("\n")[:2]) == ["fetch 200", "https 200"], out.stdout + out.stderr


# What a machine may set that decides whom clients trust; the Quick start must work either way.
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS")


@pytest.mark.parametrize("machine_ca", ["set", "unset"])
def test_the_quick_start_runs_as_written(tmp_path, machine_ca):
    from helpers import CliProxy

    section = (ROOT / "README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    server, client = re.findall(r"```sh\n(.*?)```", section, re.S)[:2]
    assert server.strip() == "tapeproxy demo"
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in CA_VARIABLES and "PROXY" not in k.upper()}
    env["HOME"] = str(home)
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}"  # as in an activated venv
    if machine_ca == "set":  # as this machine and many CI images do: the system roots only
        system = "/etc/ssl/certs/ca-certificates.crt"
        env.update({k: system for k in CA_VARIABLES if k != "SSL_CERT_DIR"}, SSL_CERT_DIR="/etc/ssl/certs")
    # The one change: a free port instead of 8080, which `tapeproxy env` finds by itself (the
    # instance writes its URL where env and ctl look: issue 27, 18).
    proxy = CliProxy(["demo"], home / ".mitmproxy", env=env)
    try:
        out = subprocess.run(
            ["bash", "-euc", client],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        proxy.stop()
    assert out.returncode == 0, out.stderr
    assert '"@odata.context"' in out.stdout and '"id": "11446498"' in out.stdout, out.stdout + out.stderr
    assert proxy.output.count("-> 200 simulation") == 2, proxy.output


def test_the_scenario_docs_name_every_error_name():
    from tapeproxy.core.profiles import ERROR_NAMES

    text = (DOCS / "scenarios.md").read_text().split("Error names:", 1)[1].split("\n\n", 1)[0]
    assert [n for n in ERROR_NAMES if f"`{n}`" not in text] == []


def test_every_control_api_route_has_a_curl_example():
    from tapeproxy.control import ROUTES

    text = (DOCS / "control-api.md").read_text()
    lines = [line for line in text.splitlines() if line.startswith("curl ")]
    for route in ROUTES:
        method, path = route.split()
        path = re.sub(r"\[/NAME\]$", "", path).replace("ID", "7")
        shown = [
            line
            for line in lines
            if re.search(rf"\$C{re.escape(path)}(\"|\?| |$)", line)
            and (("-X " + method) in line or (method == "GET" and "-X " not in line))
        ]
        assert shown, f"{route}: no curl example in docs/control-api.md"
