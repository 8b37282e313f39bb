"""The container image (issue 32), built and run for real with podman: curl and requests from this
machine through it to a simulated Box task, a mounted cassette replayed, an app container trusting
the CA from the shared volume (the compose file, by podman-compose), and the Testcontainers module
through podman's Docker API. Skipped, with the reason, where podman is absent.

No registry is reachable here, so the image is built from a local base: Debian bookworm made with
debootstrap and imported, kept as a `podman save` tarball in TAPEPROXY_CONTAINER_CACHE
(/var/tmp/tapeproxy-container-cache by default) between runs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from helpers import interaction, write_cassette

ROOT = Path(__file__).resolve().parent.parent
BASE = "localhost/tapeproxy-test-base:bookworm"
IMAGE = "localhost/tapeproxy:test"
TASK = "https://api.box.com/2.0/tasks/11446498"  # a Box task of the demo world
CACHE = Path(os.environ.get("TAPEPROXY_CONTAINER_CACHE", "/var/tmp/tapeproxy-container-cache"))

pytestmark = [
    pytest.mark.container,
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed (apt-get install podman runc)"),
]

# This machine's kind: crun fails on its hybrid cgroups, and the default ulimits exceed what it
# allows; a CONTAINERS_CONF of the test's own, so /etc stays untouched.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
"""


def host_ca_bundle() -> str:
    """The CA bundle this machine's pip trusts (its package index may sit behind a TLS proxy)."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        "/etc/ssl/certs/ca-certificates.crt",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("no CA bundle for pip inside the build")


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}

    def run(*args: str, timeout: float = 300, check: bool = True, **kw) -> subprocess.CompletedProcess:
        done = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout, **kw)
        if check and done.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)}: {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    run.env = env
    if run("info", check=False).returncode != 0:
        pytest.skip("podman cannot run containers here: " + run("info", check=False).stderr[-300:])
    return run


def _base_image(podman) -> None:
    if podman("image", "exists", BASE, check=False).returncode == 0:
        return
    saved = CACHE / "base-bookworm.tar"
    if saved.is_file():
        podman("load", "-i", str(saved))
        return
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        pytest.skip("no base image: building one needs root and debootstrap (apt-get install debootstrap)")
    CACHE.mkdir(parents=True, exist_ok=True)
    root = CACHE / "rootfs"
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm", str(root)],
        check=True,
        capture_output=True,
        timeout=900,
    )
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for f in (root / cache).glob("*"):
            if f.is_file():
                f.unlink()
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    podman("import", "-", BASE, stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(root, ignore_errors=True)
    podman("save", "-o", str(saved), BASE)


@pytest.fixture(scope="module")
def image(podman):
    _base_image(podman)
    podman(
        "build",
        "--format",
        "docker",  # keeps HEALTHCHECK (the OCI format has none)
        "--build-arg",
        f"BASE={BASE}",
        "--secret",
        f"id=pip_ca,src={host_ca_bundle()}",
        "-t",
        IMAGE,
        "-f",
        str(ROOT / "Containerfile"),
        str(ROOT),
        timeout=900,
    )
    return IMAGE


ME = "https://graph.microsoft.com/v1.0/me"


def mountable(folder: Path, name: str) -> Path:
    """A folder whose file `name` the image's user (not this one) may read once written."""
    folder.mkdir()
    folder.chmod(0o755)  # not through mkdir's and touch's modes: the umask applies to those
    (folder / name).touch()
    (folder / name).chmod(0o644)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A tapeproxy container with its ports on this machine's loopback and its CA in a folder here."""

    def __init__(self, podman, name: str, ca_dir: Path, *args: str, volumes: tuple[str, ...] = (), ca_volume=""):
        """ca_volume: a named volume for /ca, the CA then copied out (docs/container.md's way);
        else ca_dir is mounted there."""
        self.podman, self.name, self.ca, self.ca_volume = podman, name, ca_dir / "mitmproxy-ca-cert.pem", ca_volume
        self.port, self.control_port = free_port(), free_port()
        mounts = [a for v in (f"{ca_volume}:/ca" if ca_volume else f"{ca_dir}:/ca:U", *volumes) for a in ("-v", v)]
        podman("rm", "-f", name, check=False)
        podman(
            "run", "-d", "--name", name, "-p", f"127.0.0.1:{self.port}:8080",
            "-p", f"127.0.0.1:{self.control_port}:8081", *mounts, IMAGE, *args, "--control-token", "t0ken",
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not self.ready():
            if time.monotonic() > deadline:
                raise AssertionError("not ready in 60 s:\n" + self.logs())
            time.sleep(0.3)

    def ready(self) -> bool:
        if self.ca_volume and not self.ca.is_file():
            self.podman("cp", f"{self.name}:/ca/mitmproxy-ca-cert.pem", str(self.ca), check=False)
        if not self.ca.is_file():
            return False
        try:
            return requests.get(self.control("/health"), headers={"X-Tapeproxy-Token": "t0ken"}, timeout=2).ok
        except requests.ConnectionError:
            return False

    def control(self, path: str) -> str:
        return f"http://127.0.0.1:{self.control_port}{path}"

    @property
    def proxies(self) -> dict[str, str]:
        return {"https": f"http://127.0.0.1:{self.port}", "http": f"http://127.0.0.1:{self.port}"}

    def logs(self) -> str:
        done = self.podman("logs", self.name, check=False)
        return done.stdout + done.stderr

    def stop(self) -> str:
        self.podman("stop", "-t", "10", self.name)
        logs = self.logs()
        self.podman("rm", "-f", self.name, check=False)
        return logs


def test_the_demo_in_the_image_answers_curl_and_requests_from_this_machine(podman, image, tmp_path):
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    podman("volume", "rm", "-f", "tapeproxy-test-ca", check=False)
    proxy = Running(podman, "tapeproxy-test-demo", ca_dir, "demo", ca_volume="tapeproxy-test-ca")
    try:
        curl = subprocess.run(
            ["curl", "-sS", "--fail", "-x", proxy.proxies["https"], "--cacert", str(proxy.ca),
             "-H", "Authorization: Bearer demo", TASK],
            capture_output=True, text=True, timeout=30, env={k: v for k, v in os.environ.items() if "PROXY" not in k},
        )  # fmt: skip
        assert curl.returncode == 0, curl.stderr
        assert json.loads(curl.stdout)["id"] == "11446498"
        # requests, trusting only the CA from the volume (not this machine's bundle)
        answer = requests.get(
            TASK, proxies=proxy.proxies, verify=str(proxy.ca), headers={"Authorization": "Bearer demo"}
        )
        assert answer.status_code == 200 and answer.json()["type"] == "task"
        # the control API from outside the container: the token, as for any non-loopback client
        assert requests.get(proxy.control("/health"), timeout=5).status_code == 403
        seen = requests.get(proxy.control("/requests?host=api.box.com"), headers={"X-Tapeproxy-Token": "t0ken"})
        assert [(r["url"], r["source"]) for r in seen.json()["requests"]] == [(TASK, "simulation")] * 2
        assert podman("healthcheck", "run", proxy.name, check=False).returncode == 0  # the image's HEALTHCHECK
        user = podman("exec", proxy.name, "id", "-u").stdout.strip()
        assert user == "10001"  # not root
        # the build's CA secret is in no layer
        assert podman("exec", proxy.name, "test", "-e", "/run/secrets/pip_ca", check=False).returncode != 0
        history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
        assert "BEGIN CERTIFICATE" not in history
    finally:
        logs = proxy.stop()
        podman("volume", "rm", "-f", "tapeproxy-test-ca", check=False)
    assert "tapeproxy demo: stopped" in logs, logs[-2000:]


def test_a_mounted_cassette_folder_is_replayed(podman, image, tmp_path):
    cassettes = mountable(tmp_path / "cassettes", "me.yaml")
    write_cassette(cassettes / "me.yaml", [interaction("GET", ME, body={"displayName": "From the cassette"})])
    url = ME
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    proxy = Running(
        podman, "tapeproxy-test-replay", ca_dir, "replay", "/cassettes", volumes=(f"{cassettes}:/cassettes:ro",)
    )
    try:
        answer = requests.get(url, proxies=proxy.proxies, verify=str(proxy.ca))
        assert answer.status_code == 200 and answer.json() == {"displayName": "From the cassette"}
        missed = requests.get(url + "/messages", proxies=proxy.proxies, verify=str(proxy.ca))
        assert missed.status_code == 404  # a miss, in Graph's envelope: a replaying proxy asks no one
        assert missed.json()["error"]["code"]
    finally:
        logs = proxy.stop()
    assert "cassette" in logs and "MISS" in logs, logs[-2000:]


def test_the_compose_file_runs_an_app_that_trusts_the_ca_from_the_shared_volume(podman, image):
    compose = shutil.which("podman-compose") or str(Path(sys.executable).parent / "podman-compose")
    if not Path(compose).exists():
        pytest.skip("podman-compose is not installed (pip install podman-compose)")
    env = {**podman.env, "TAPEPROXY_IMAGE": IMAGE, "APP_IMAGE": IMAGE}  # the image has python3, as the app's would
    project = ["-p", "tapeproxy-test", "-f", str(ROOT / "container" / "compose.yaml")]
    try:
        up = subprocess.run(
            [compose, *project, "up", "--no-build", "--abort-on-container-exit", "--exit-code-from", "app"],
            env=env, capture_output=True, text=True, timeout=240,
        )  # fmt: skip
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "app: Box task 11446498 on Contract.pdf" in up.stdout
    finally:
        subprocess.run([compose, *project, "down", "-v"], env=env, capture_output=True, timeout=120)


def test_the_testcontainers_module_through_podmans_docker_api(podman, image, tmp_path, monkeypatch):
    socket_path = tmp_path / "podman.sock"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket_path}")
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")  # its reaper image cannot be pulled here
    # this sandbox has a /.dockerenv, so Testcontainers would look for a gateway; the ports are here
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    pytest.importorskip("testcontainers", reason="no container extra (pip install 'tapeproxy[container]')")
    from tapeproxy.testcontainers import TapeproxyContainer

    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{socket_path}"], env=podman.env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not socket_path.exists():
            assert time.monotonic() < deadline and service.poll() is None, "podman's Docker API did not start"
            time.sleep(0.2)
        cassettes = mountable(tmp_path / "cassettes", "me.yaml")
        write_cassette(cassettes / "me.yaml", [interaction("GET", ME, body={"displayName": "Through testcontainers"})])
        url = ME
        scenarios = mountable(tmp_path / "scenarios", "throttle.yaml")
        rule = {"match": {"host": "graph.microsoft.com", "path": "/v1.0/users"}, "error": "throttled"}
        (scenarios / "throttle.yaml").write_text(json.dumps({"name": "throttle-users", "rules": [rule]}))
        started = TapeproxyContainer(IMAGE, "replay", "/cassettes", "--scenario", "/scenarios/throttle.yaml")
        with started.with_cassettes(cassettes).with_scenarios(scenarios) as proxy:
            answer = requests.get(url, proxies=proxy.proxies(), verify=str(proxy.ca_path))
            assert answer.json() == {"displayName": "Through testcontainers"}
            throttled = requests.get(url.replace("/me", "/users"), proxies=proxy.proxies(), verify=str(proxy.ca_path))
            assert throttled.status_code == 429 and throttled.headers["Retry-After"]
            env = {**os.environ, **proxy.client_env()}
            curl = subprocess.run(["curl", "-sS", "--fail", url], env=env, capture_output=True, text=True, timeout=30)
            assert curl.returncode == 0 and "Through testcontainers" in curl.stdout, curl.stderr
            sources = [r["source"] for r in proxy.requests(host="graph.microsoft.com")]
            assert sources == ["cassette", "scenario", "cassette"]
    finally:
        service.terminate()
        service.wait(timeout=30)
