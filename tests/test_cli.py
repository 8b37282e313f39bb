"""The command line: ca, the start-up line, clean stops, reverse mode, and clear errors for bad input."""

import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers import AUTH, GRAPH_TASK_URL, ROOT, run_cli, tapeproxy_cmd, write_cassette
from process import ReadyProcess


def test_ca_prints_the_certificate_path_and_creates_it(tmp_path):
    out = run_cli(["ca", "--confdir", str(tmp_path / "conf")])
    assert out.returncode == 0, out.stderr
    path = out.stdout.strip()
    assert path == str(tmp_path / "conf" / "mitmproxy-ca-cert.pem")
    assert open(path).read().startswith("-----BEGIN CERTIFICATE-----")
    key = tmp_path / "conf" / "mitmproxy-ca.pem"
    assert stat.S_IMODE(key.stat().st_mode) & 0o077 == 0  # the private key is not readable by others


def test_startup_line_points_clients_at_the_proxy(start_cli, confdir):
    proxy = start_cli("demo")
    assert proxy.banner.startswith(
        f"tapeproxy demo: proxy {proxy.url} | CA {confdir}/mitmproxy-ca-cert.pem | control http://127.0.0.1:"
    )
    env = dict(item.split("=", 1) for item in shlex.split(proxy.banner.split("| export ", 1)[1]))
    assert env["HTTPS_PROXY"] == proxy.url and env["NODE_EXTRA_CA_CERTS"] == proxy.ca
    # The printed environment alone makes curl work, and the bundle still trusts the system roots.
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Authorization: " + AUTH["Authorization"],
            GRAPH_TASK_URL,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.stdout == "200", out.stderr
    bundle = open(env["SSL_CERT_FILE"]).read()
    assert bundle.startswith(open(proxy.ca).read()) and bundle.count("BEGIN CERTIFICATE") > 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_cleanly(start_cli, sig):
    proxy = start_cli("demo")
    # a client that keeps its connection open, as SDK sessions do, when the proxy stops
    s = requests.Session()
    s.trust_env = False
    assert s.get(GRAPH_TASK_URL, proxies={"https": proxy.url}, verify=proxy.ca, headers=AUTH).status_code == 200
    assert proxy.stop(sig) == 0
    assert "Traceback" not in proxy.output
    assert proxy.output.rstrip().endswith("tapeproxy demo: stopped")


def test_reverse_mode_serves_clients_that_change_their_base_url(start_cli):
    proxy = start_cli("demo", "--reverse", "https://graph.microsoft.com")
    assert "reverse proxy for https://graph.microsoft.com at http://127.0.0.1:" in proxy.banner
    assert proxy.banner.count("https://graph.microsoft.com at") == 1, proxy.banner
    path = GRAPH_TASK_URL.split("graph.microsoft.com", 1)[1]
    r = requests.get(proxy.url + path, proxies={"http": None, "https": None}, headers=AUTH)
    assert r.status_code == 200 and r.json()["status"]["state"] == "processing"
    r = requests.get(proxy.url + "/v1.0/nothing/here")
    assert r.status_code == 401  # no token: Graph's 401, from the demo's spec answers
    r = requests.get(proxy.url + "/v1.0/nothing/here", headers=AUTH)
    assert r.status_code == 400 and r.json()["error"]["message"] == "Resource not found for the segment 'nothing'."


def test_two_reverse_targets_listen_side_by_side(start_cli):
    proxy = start_cli("demo", "--reverse", "https://graph.microsoft.com", "--reverse", "https://api.box.com")
    bases = dict(re.findall(r"(https://[a-z.]+) at (http://127\.0\.0\.1:\d+)", proxy.banner))
    graph, box = bases["https://graph.microsoft.com"], bases["https://api.box.com"]
    assert requests.get(graph + GRAPH_TASK_URL.split(".com", 1)[1], headers=AUTH).status_code == 200
    assert requests.get(box + "/2.0/tasks/11446498", headers=AUTH).json()["type"] == "task"


@pytest.mark.parametrize(
    "content, expected",
    [
        ("interactions:\n- request: [\n", "broken.yaml:3: "),
        ("", "broken.yaml:1: empty cassette"),
        (
            "interactions:\n- request:\n    method: GET\n    uri: https://api.box.com/x\n"
            "  response:\n    status: {code: 9000}\n",
            "broken.yaml:6: status code must be an integer 100-599, got 9000",
        ),
        ("interactions:\n- request: {method: GET}\n  response: {}\n", "broken.yaml:2: request needs a string 'uri'"),
        (
            "!!python/object/apply:os.system ['echo pwned']\n",
            "broken.yaml:1: tag tag:yaml.org,2002:python/object/apply:os.system is not allowed",
        ),
        (b"interactions: []\n# caf\xe9\n", "broken.yaml:2: not valid UTF-8 (byte 0xe9)"),
    ],
)
def test_bad_cassettes_give_file_and_line_and_exit_2(tmp_path, content, expected):
    path = tmp_path / "broken.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = run_cli(["replay", str(path), "--port", "0", "--confdir", str(tmp_path / "conf")])
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert expected in out.stderr, out.stderr


def test_bad_options_are_clear(tmp_path):
    cassette = write_cassette(tmp_path / "ok.yaml", [])
    out = run_cli(["replay", str(cassette), "--match-on", "method,bodyy", "--port", "0"])
    assert out.returncode == 2 and "unknown matcher 'bodyy'" in out.stderr and "choose from" in out.stderr
    out = run_cli(["replay", str(tmp_path / "missing.yaml"), "--port", "0"])
    assert out.returncode == 2 and "missing.yaml: file not found" in out.stderr
    out = run_cli(
        ["replay", str(cassette), "--set", "no_such_option=1", "--port", "0", "--confdir", str(tmp_path / "conf")]
    )
    assert out.returncode == 2 and "no_such_option" in out.stderr and "Traceback" not in out.stderr


def test_env_lines_make_curl_and_requests_work(start_cli, confdir):
    from helpers import tapeproxy_cmd

    proxy = start_cli("demo")
    env_cmd = " ".join(
        shlex.quote(a) for a in [*tapeproxy_cmd(), "env", "--proxy", proxy.url, "--confdir", str(confdir)]
    )
    script = (
        f'eval "$({env_cmd})" && curl -sS -o /dev/null -w "%{{http_code}}\\n" '
        f'-H "Authorization: Bearer t" {GRAPH_TASK_URL} && '
        f'{shlex.quote(sys.executable)} -c "import requests; '
        f"print(requests.get('{GRAPH_TASK_URL}', headers={{'Authorization': 'Bearer t'}}).status_code)\""
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["200", "200"], out.stdout + out.stderr
    for shell, start in (("fish", "set -gx HTTPS_PROXY "), ("powershell", "$env:HTTPS_PROXY = '")):
        lines = run_cli(["env", "--shell", shell, "--proxy", proxy.url, "--confdir", str(confdir)]).stdout
        assert lines.startswith(start + proxy.url) and "JAVA_TOOL_OPTIONS" in lines


def test_journal_lines_summary_and_report(start_cli, tmp_path):
    import json as json_

    report = tmp_path / "report.json"
    proxy = start_cli("demo", "--scenario", "graph-throttle-once", "--report", str(report))
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    s.headers.update(AUTH)
    assert [s.get(GRAPH_TASK_URL).status_code for _ in range(2)] == [429, 200]  # the second one too early
    # a miss: the demo answers api.box.com from its spec, not the upload host
    assert s.get("https://upload.box.com/api/2.0/users/me?access_token=s3cr3t-value").status_code == 404
    assert proxy.stop() == 0
    out = proxy.output
    assert f"GET {GRAPH_TASK_URL} -> 429 scenario graph-throttle-once rule 1" in out
    assert f"GET {GRAPH_TASK_URL} -> 200 simulation GET" in out
    assert "s3cr3t-value" not in out and "access_token=***" in out
    assert "tapeproxy demo: summary" in out and "MISS GET https://upload.box.com/api/2.0/users/me" in out
    data = json_.loads(report.read_text())
    assert data["requests"] == 3
    assert data["by_source"] == {"scenario": 1, "simulation": 1, "miss": 1}
    assert data["misses"][0]["url"] == "https://upload.box.com/api/2.0/users/me?access_token=***"
    assert "closest" in data["misses"][0]["why"] and len(data["early_retries"]) == 1
    assert "s3cr3t-value" not in report.read_text()


def test_journal_lines_are_log_lines_in_order_and_obey_the_verbosity(start_cli):
    proxy = start_cli("demo")
    for url in (GRAPH_TASK_URL, "https://graph.microsoft.com/beta/me"):  # the second a miss: a warning first
        requests.get(url, proxies={"https": proxy.url}, verify=proxy.ca, headers=AUTH)
    proxy.stop()
    stamped = [line for line in proxy.output.splitlines() if re.match(r"\[\d\d:\d\d:\d\d\.\d{3}\] \S", line)]
    stamped = [line for line in stamped if "] GUIDANCE " not in line]  # the guidance lines after a request's
    assert f"] GET {GRAPH_TASK_URL} -> 200 simulation GET" in stamped[-3]
    assert "] tapeproxy MISS GET https://graph.microsoft.com/beta/me" in stamped[-2]
    assert "] GET https://graph.microsoft.com/beta/me -> 404 MISS" in stamped[-1]

    quiet = start_cli("demo", "--set", "termlog_verbosity=warn")
    requests.get(GRAPH_TASK_URL, proxies={"https": quiet.url}, verify=quiet.ca, headers=AUTH)
    quiet.stop()
    assert f"GET {GRAPH_TASK_URL} ->" not in quiet.output


def test_what_start_up_built_is_frozen_out_of_the_collectors_way(tmp_path):
    """A full collection walked every object start-up made, tens of ms each time: the p99."""
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count(), flush=True))\n"
        "from tapeproxy.frontends.cli import main\n"
        "sys.exit(main())\n"
    )
    proxy = ReadyProcess(
        [sys.executable, "-c", code, "demo", "--port", "0", "--confdir", str(tmp_path)], "tapeproxy demo: proxy"
    )
    assert proxy.match is not None
    url = "http://" + proxy.match.string.split("http://", 1)[1].split()[0]  # the start-up line's
    ca = tmp_path / "mitmproxy-ca-cert.pem"
    assert requests.get(GRAPH_TASK_URL, proxies={"https": url}, verify=ca, headers=AUTH).ok
    assert proxy.stop() == 0
    assert int(re.search(r"frozen (\d+)", proxy.output).group(1)) > 10_000, proxy.output[-500:]


def test_quiet_has_no_lines_per_request(start_cli):
    proxy = start_cli("demo", "--quiet")
    requests.get(GRAPH_TASK_URL, proxies={"https": proxy.url}, verify=proxy.ca, headers=AUTH)
    proxy.stop()
    assert f"GET {GRAPH_TASK_URL} ->" not in proxy.output and "tapeproxy demo: summary" in proxy.output


def test_replay_dir_skips_yaml_that_is_not_a_cassette(start_cli, tmp_path):
    shutil.copy(ROOT / "tests" / "data" / "vcrpy-old-tags.yaml", tmp_path / "graph.yaml")
    (tmp_path / "box-throttled.yaml").write_text(
        "name: t\nrules:\n  - match: {host: api.box.com}\n    respond: {status: 200}\n"
    )
    (tmp_path / "docker-compose.yml").write_text("services:\n  app: {image: app}\n")
    proxy = start_cli("replay", str(tmp_path))
    assert proxy.wait_for("replaying 2 interactions from 1 cassette(s)"), proxy.output
    for name in ("box-throttled.yaml", "docker-compose.yml"):
        assert sum(f"{name}: not a cassette" in line for line in proxy.lines) == 1, proxy.output


def test_replay_dir_and_lint_dir_see_the_same_cassettes_nested_as_pytest_recording_keeps_them(start_cli, tmp_path):
    """pytest-recording writes cassettes/<test module>/<test>.yaml: `replay DIR` must serve what
    `lint DIR` checks, and neither looks into hidden folders such as .venv."""
    nested = tmp_path / "test_tasks" / "test_complete.yaml"
    nested.parent.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "vcrpy-old-tags.yaml", nested)
    hidden = tmp_path / ".venv" / "lib" / "broken.yaml"
    hidden.parent.mkdir(parents=True)
    hidden.write_text("interactions: [\n")
    linted = run_cli(["lint", str(tmp_path)])
    assert linted.returncode == 0 and f"{nested}: ok" in linted.stdout and "broken" not in linted.stdout
    proxy = start_cli("replay", str(tmp_path))
    assert proxy.wait_for("replaying 2 interactions from 1 cassette(s)"), proxy.output


def test_replay_dir_without_a_cassette_fails(tmp_path):
    (tmp_path / "scenario.yaml").write_text("rules: []\n")
    out = run_cli(["replay", str(tmp_path), "--port", "0"])
    assert out.returncode == 2
    assert f"{tmp_path}: no cassettes in this directory" in out.stderr


def test_a_busy_port_is_said_once_in_tapeproxys_words(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_cli(["demo", "--port", str(port), "--confdir", str(tmp_path)])
    assert out.returncode == 2
    said = out.stdout + out.stderr
    assert said.count(f"127.0.0.1:{port} is already in use") == 1, said
    assert "--port 0 for a free one" in said and "--mode" not in said


def test_env_keeps_no_proxy_takes_zsh_and_gives_absolute_paths(tmp_path):
    out = run_cli(["env", "--shell", "zsh", "--confdir", "conf", "--proxy", "http://127.0.0.1:9"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "NO_PROXY" not in out.stdout  # the user's own setting is theirs
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
    assert exports["SSL_CERT_FILE"] == str(tmp_path / "conf" / "tapeproxy-ca-bundle.pem")
    assert exports["NODE_EXTRA_CA_CERTS"] == str(tmp_path / "conf" / "mitmproxy-ca-cert.pem")


def test_requests_is_given_the_bundle_as_a_hashed_directory(tmp_path):
    """requests loads a CA bundle file anew for every new connection (230 KB: +15-28 ms each); from
    an OpenSSL hashed directory it reads only the certificate a handshake looks up."""
    out = run_cli(["env", "--confdir", str(tmp_path / "conf"), "--proxy", "http://127.0.0.1:9"])
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
    folder, bundle = Path(exports["REQUESTS_CA_BUNDLE"]), Path(exports["SSL_CERT_FILE"])
    assert folder.is_dir() and bundle.is_file()  # curl and OpenSSL's SSL_CERT_FILE take files only
    pem = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
    in_bundle = sorted(pem.findall(bundle.read_text()))
    assert sorted(f.read_text().strip() for f in folder.iterdir()) == in_bundle  # each certificate once
    for path in sorted(folder.iterdir())[:: max(1, len(in_bundle) // 8)]:  # named as `openssl rehash` would
        subject_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(path)], capture_output=True)
        assert path.name.split(".")[0] == subject_hash.stdout.decode().strip()
    ca = tmp_path / "conf" / "mitmproxy-ca-cert.pem"
    verified = subprocess.run(["openssl", "verify", "-CApath", str(folder), str(ca)], capture_output=True, text=True)
    assert verified.stdout.strip().endswith(": OK"), verified.stdout + verified.stderr


def test_the_run_writes_no_ca_into_the_users_home(own_home):
    out = run_cli(["ca"])  # no --confdir: ~/.mitmproxy
    assert out.stdout.strip() == str(own_home / ".mitmproxy" / "mitmproxy-ca-cert.pem")


def test_tapeproxy_env_run_in_parallel_never_leaves_a_partial_bundle_or_ca_directory(tmp_path):
    """Parallel test workers each run `tapeproxy env` against one confdir: every run succeeds, and
    the CA bundle clients read is never half written (issue 16's twin of writer's atomic write)."""
    confdir = tmp_path / "conf"
    assert run_cli(["ca", "--confdir", str(confdir)]).returncode == 0
    script = (
        "import shutil, sys\nfrom pathlib import Path\nfrom tapeproxy.runtime.ca import BUNDLE_FILE, ensure_ca_dir\n"
        "conf = Path(sys.argv[1])\n"
        "for _ in range(100):\n"
        "    (conf / BUNDLE_FILE).unlink(missing_ok=True)\n"
        "    shutil.rmtree(next(conf.glob('tapeproxy-ca-dir-*'), conf / 'none'), ignore_errors=True)\n"
        "    ensure_ca_dir(str(conf))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(confdir)], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(errors)[-2000:]
    leftovers = [p.name for p in confdir.iterdir() if p.name.endswith(".tmp") or p.name.startswith(".")]
    assert not leftovers, leftovers


def test_ctl_loads_no_mitmproxy(tmp_path):
    """`tapeproxy ctl` is a small HTTP client: it must not pay mitmproxy's import (issue 16)."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('mitmproxy modules:',\n"
        "                              sum(m.split('.')[0] == 'mitmproxy' for m in sys.modules)))\n"
        "from tapeproxy.frontends.cli import main\n"
        "sys.exit(main(['ctl', 'status', '--proxy', 'http://127.0.0.1:9']))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "tapeproxy: error:" in out.stderr, out.stdout + out.stderr
    assert "mitmproxy modules: 0" in out.stdout, out.stdout


def test_a_second_writer_of_a_cassette_or_a_state_file_is_refused_at_start_naming_the_first(start_cli, tmp_path):
    """Issue 27, 7: two `record` processes on one cassette both said "recorded 40" and the file kept
    one's 40; two demos on one --state kept 11 of 22 uploads; --world F --state F reloaded forever."""
    cassette, state = tmp_path / "c.yaml", tmp_path / "s.yaml"
    first = start_cli("record", "--cassette", str(cassette))
    second = run_cli(["record", "--cassette", str(cassette), "--port", "0", "--confdir", str(tmp_path / "conf")])
    assert second.returncode == 2, second.stdout + second.stderr
    assert f"being written by pid {first.proc.pid}" in second.stderr and "c.yaml" in second.stderr
    demo = start_cli("demo", "--state", str(state))
    again = run_cli(["demo", "--state", str(state), "--port", "0", "--confdir", str(tmp_path / "conf")])
    assert again.returncode == 2 and f"state file {state} is being written by pid {demo.proc.pid}" in again.stderr
    demo.stop(signal.SIGKILL)  # the OS drops a killed writer's lock
    assert start_cli("demo", "--state", str(state)).proc.poll() is None
    world = tmp_path / "w.yaml"
    world.write_text("graph: {}\n")
    same = run_cli(["demo", "--world", str(world), "--state", str(world), "--port", "0", "--confdir", str(tmp_path)])
    assert same.returncode == 2 and "--state and --world both name" in same.stderr, same.stderr
    first.stop()


def test_what_a_killed_writer_left_half_written_is_cleared_by_the_next(start_cli, tmp_path):
    """Issue 27, 14: the temporary files of writes cut off by kill -9 piled up in the state folder."""
    state = tmp_path / "s.yaml"
    (tmp_path / ".s.yaml.abc123.tmp").write_text("half a stat")
    (tmp_path / "s.yaml.blobs").mkdir()
    (tmp_path / "s.yaml.blobs" / ".0123.xyz.tmp").write_bytes(b"half a blob")
    (tmp_path / ".other.yaml.abc.tmp").write_text("not ours")
    start_cli("demo", "--state", str(state))
    assert sorted(p.name for p in tmp_path.rglob(".*.tmp")) == [".other.yaml.abc.tmp"]


def test_env_and_ctl_find_a_port_0_instance_and_env_exports_what_ctl_reads(tmp_path, own_home):
    """Issue 27, 18: env printed 8080 for a --port 0 instance and did not export TAPEPROXY_URL."""
    from helpers import CliProxy

    env = {k: v for k, v in os.environ.items() if k != "TAPEPROXY_URL"}
    confdir = own_home / ".mitmproxy"  # the default confdir, as a user has it

    def tool(*args):
        return subprocess.run([*tapeproxy_cmd(), *args], env=env, capture_output=True, text=True, timeout=30)

    proxy = CliProxy(["demo"], confdir, env=env)
    try:
        lines = tool("env").stdout
        assert f"export HTTPS_PROXY={proxy.url}" in lines and f"export TAPEPROXY_URL={proxy.url}" in lines
        status = subprocess.run(
            [*tapeproxy_cmd(), "ctl", "status"], env=env, capture_output=True, text=True, timeout=30
        )
        assert status.returncode == 0, status.stderr
        second = CliProxy(["demo"], confdir, env=env)
        try:
            both = tool("env")
            assert f"export HTTPS_PROXY={second.url}" in both.stdout  # the newest
            assert "2 instances are running" in both.stderr and proxy.url in both.stderr
        finally:
            second.stop()
    finally:
        proxy.stop()
    after = tool("env").stdout
    assert "export HTTPS_PROXY=http://127.0.0.1:8080" in after  # none running: the default
    assert not list((confdir / "tapeproxy-running").glob("*.json"))


def test_a_reader_that_stops_early_gets_no_traceback(start_cli):
    """Issue 27, 20: `tapeproxy env | head -1` ended in a BrokenPipeError traceback."""
    out = subprocess.run(
        f"{shlex.join(tapeproxy_cmd())} env --proxy http://127.0.0.1:1 | true; echo $?",
        shell=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr and out.stdout.strip() == "0"


def test_a_start_up_failure_and_a_misspelled_scenario_speak_the_cli_words(tmp_path):
    """Issue 27, 20: mitmproxy's listen_host where the user gave --host; no "did you mean"."""
    out = run_cli(["demo", "--host", "10.254.254.254", "--allow-remote", "--port", "0", "--confdir", str(tmp_path)])
    assert out.returncode == 2 and "cannot listen on --host 10.254.254.254" in out.stderr, out.stderr
    assert "listen_host" not in out.stdout + out.stderr
    out = run_cli(["demo", "--scenario", "graph-throtling", "--port", "0", "--confdir", str(tmp_path)])
    assert out.returncode == 2 and "did you mean 'graph-throttling'?" in out.stderr, out.stderr


CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def test_the_eval_line_keeps_the_system_roots_and_a_private_root_trusted_before(start_cli, confdir, tmp_path):
    """Issue 27, 17: the bundle was the proxy's CA plus certifi's roots, so a corporate root stopped
    verifying after eval "$(tapeproxy env)" (requests CERTIFICATE_VERIFY_FAILED, curl exit 60)."""
    from helpers import LocalHTTPS

    corporate = LocalHTTPS(tmp_path)  # signed by a root of its own, as a company's internal CA
    proxy = start_cli("demo")
    clean = {k: v for k, v in os.environ.items() if k not in CA_VARIABLES and "PROXY" not in k.upper()}
    env_cmd = shlex.join([*tapeproxy_cmd(), "env", "--proxy", proxy.url, "--confdir", str(confdir)])
    url = f"https://127.0.0.1:{corporate.port}/"
    script = (
        f'eval "$({env_cmd})" && curl -sS -o /dev/null -w "%{{http_code}}\\n" {url} && '
        f"{shlex.quote(sys.executable)} -c \"import requests; print(requests.get('{url}').status_code)\" && "
        f'curl -sS -o /dev/null -w "%{{http_code}}\\n" -H "Authorization: Bearer t" {GRAPH_TASK_URL}'
    )
    try:
        out = subprocess.run(
            ["bash", "-c", script], env={**clean, "SSL_CERT_FILE": str(corporate.cert)}, capture_output=True, text=True
        )
        assert out.stdout.split() == ["200", "200", "200"], out.stdout + out.stderr
    finally:
        corporate.close()
    lines = subprocess.run(
        [*tapeproxy_cmd(), "env", "--proxy", proxy.url, "--confdir", str(confdir)],
        env=clean,
        capture_output=True,
        text=True,
    ).stdout
    bundle = next(line.split("=", 1)[1] for line in lines.splitlines() if line.startswith("export SSL_CERT_FILE="))
    held = set(re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", Path(bundle).read_bytes(), re.S))
    system = Path("/etc/ssl/certs/ca-certificates.crt")
    if system.is_file():  # the machine's own store, every root of it
        roots = set(re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", system.read_bytes(), re.S))
        assert roots <= held and len(held) == len(roots) + 1, (len(held), len(roots))


def test_the_demo_lists_what_it_serves_and_its_export_line_sets_what_env_sets(start_cli, confdir):
    """Issue 27, 20: the demo printed counts where the README promises the list, and its export line
    left out JAVA_TOOL_OPTIONS."""
    proxy = start_cli("demo")
    out = proxy.output
    assert "3203656e-6069-4e10-8147-d25290b00a3c (Test TaskDefinitionName" in out
    assert "11446498 (Legal review, on file 12345)" in out and "(box-tasks.yaml, graph-print-tasks.yaml)" in out
    exported = {
        line.split("=", 1)[0].removeprefix("export ")
        for line in run_cli(["env", "--proxy", proxy.url, "--confdir", str(confdir)]).stdout.splitlines()
    }
    banner = proxy.banner.split(" | export ", 1)[1]
    assert exported == {k for k in exported if f"{k}=" in banner} and "JAVA_TOOL_OPTIONS" in exported
    assert {"TAPEPROXY_URL", "NODE_USE_ENV_PROXY"} <= exported
