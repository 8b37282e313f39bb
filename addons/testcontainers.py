"""tapeproxy's image as a Testcontainers module (the optional extra `tapeproxy[container]`), for a
Python test that wants tapeproxy in a container: the proxy URL, the CA copied out, an env() for
subprocesses (client_env()), cassette and scenario folders mounted, and the control API's journal.

    with TapeproxyContainer("tapeproxy:latest").with_cassettes("tests/cassettes") as proxy:
        requests.get(url, proxies=proxy.proxies(), verify=proxy.ca_path)
        assert proxy.requests(source="cassette")

See docs/container.md (with a pytest fixture)."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

from testcontainers.core.container import DockerContainer
from testcontainers.core.wait_strategies import LogMessageWaitStrategy

PROXY_PORT, CONTROL_PORT = 8080, 8081  # the image's (container/entrypoint.sh)
CA_FILE = "/ca/mitmproxy-ca-cert.pem"


class TapeproxyContainer(DockerContainer):
    """`tapeproxy COMMAND ARGS...` in the image (default: the demo), its ports published."""

    def __init__(self, image: str = "tapeproxy:latest", command: str = "demo", *args: str, **kwargs) -> None:
        super().__init__(image, **kwargs)
        self.token = secrets.token_urlsafe(16)  # the control API answers other hosts only with it
        self._args = [command, *args, "--control-token", self.token]
        self._ca_dir = Path(tempfile.mkdtemp(prefix="tapeproxy-ca-"))
        self.with_exposed_ports(PROXY_PORT, CONTROL_PORT)
        self.waiting_for(LogMessageWaitStrategy(r"tapeproxy \w+: proxy http"))

    def with_cassettes(self, folder: str | os.PathLike, mode: str = "ro") -> TapeproxyContainer:
        """Mount a folder of cassettes at /cassettes (mode "rw" to record into it)."""
        return self.with_volume_mapping(str(Path(folder).resolve()), "/cassettes", mode)

    def with_scenarios(self, folder: str | os.PathLike) -> TapeproxyContainer:
        """Mount a folder of scenario files at /scenarios (read-only)."""
        return self.with_volume_mapping(str(Path(folder).resolve()), "/scenarios", "ro")

    def start(self) -> TapeproxyContainer:
        self.with_command(self._args)
        super().start()
        self.copy_from_container(CA_FILE, self.ca_path)
        return self

    @property
    def ca_path(self) -> Path:
        """The CA's certificate on this machine (copied out of the container once started)."""
        return self._ca_dir / "mitmproxy-ca-cert.pem"

    @property
    def proxy_url(self) -> str:
        return f"http://{self._host()}:{self.get_exposed_port(PROXY_PORT)}"

    @property
    def control_url(self) -> str:
        return f"http://{self._host()}:{self.get_exposed_port(CONTROL_PORT)}"

    def proxies(self) -> dict[str, str]:
        """For requests' and httpx's `proxies`."""
        return {"http": self.proxy_url, "https": self.proxy_url}

    def client_env(self) -> dict[str, str]:
        """What a subprocess needs to go through the container and trust its CA (not `env`:
        DockerContainer keeps the container's own environment there)."""
        ca = str(self.ca_path)
        return {
            "HTTPS_PROXY": self.proxy_url,
            "HTTP_PROXY": self.proxy_url,
            "NO_PROXY": "",
            "SSL_CERT_FILE": ca,
            "REQUESTS_CA_BUNDLE": ca,
            "CURL_CA_BUNDLE": ca,
            "NODE_EXTRA_CA_CERTS": ca,
        }

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        """A control API call (docs/control-api.md), its JSON answer."""
        request = urllib.request.Request(
            self.control_url + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"X-Tapeproxy-Token": self.token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:  # a control URL this module built
            return json.loads(answer.read() or b"{}")

    def requests(self, **filters: str) -> list[dict]:
        """The journal (GET /requests), filtered as the control API filters (method, host, path, source...)."""
        query = urllib.parse.urlencode(filters)
        return self.control("GET", "/requests" + (f"?{query}" if query else ""))["requests"]

    def _host(self) -> str:
        host = self.get_container_host_ip()
        return f"[{host}]" if ":" in host else host
