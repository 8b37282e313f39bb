"""The reference in docs/ stays true: every example loads, every CLI option is documented."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

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
    script.write_text(_blocks("clients.md", "js")[0])
    out = subprocess.run(
        ["node", str(script)],
        env={**os.environ, "GRAPH_BASE_URL": proxy.url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.stdout.strip() == "4 task definitions", out.stderr


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
    # The one change: a free port instead of 8080, which `tapeproxy env` learns from TAPEPROXY_URL.
    proxy = CliProxy(["demo"], home / ".mitmproxy", env=env)
    try:
        out = subprocess.run(
            ["bash", "-euc", client],
            env={**env, "TAPEPROXY_URL": proxy.url},
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        proxy.stop()
    assert out.returncode == 0, out.stderr
    assert '"@odata.context"' in out.stdout and '"id": "11446498"' in out.stdout, out.stdout + out.stderr
    assert proxy.output.count("-> 200 simulation") == 2, proxy.output
