"""How long an official client takes to fail on a replay miss, and how many times it asks.

    python bench/miss_time.py [--miss-status N]

Starts `tapeproxy replay` on an empty-of-this-request cassette, then asks for a request it does not
hold with box-sdk-gen (default retry strategy), msgraph-sdk (kiota's default middleware, retry
handler included) and requests with a typical urllib3 Retry (status_forcelist 429/500/502/503/504,
backoff 0.5). Prints, per client, the seconds from the call to its exception and the requests the
proxy received (from its --report). A miss answer no client retries fails in one request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from process import ReadyProcess  # noqa: E402  (the tests' helper: one way to wait for a ready line)

CASSETTE = {
    "version": 1,
    "interactions": [
        {
            "request": {"method": "GET", "uri": "https://api.box.com/2.0/users/me", "body": None, "headers": {}},
            "response": {
                "status": {"code": 200, "message": "OK"},
                "headers": {"Content-Type": ["application/json"]},
                "body": {"string": '{"type": "user", "id": "1"}'},
            },
        }
    ],
}


def tapeproxy_cmd() -> list[str]:
    script = Path(sys.executable).parent / "tapeproxy"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tapeproxy.frontends.cli"]


def start(tmp: Path, miss_status: int | None, report: Path) -> tuple[ReadyProcess, str, str]:
    cassette = tmp / "c.yaml"
    cassette.write_text(yaml.safe_dump(CASSETTE))
    args = [
        *tapeproxy_cmd(),
        "replay",
        str(cassette),
        "--port",
        "0",
        "--confdir",
        str(tmp / "conf"),
        "--quiet",
        "--report",
        str(report),
    ]
    if miss_status is not None:
        args += ["--miss-status", str(miss_status)]
    proc = ReadyProcess(args, r" proxy (http://\S+)")
    assert proc.match is not None
    return proc, proc.match.group(1), str(tmp / "conf" / "mitmproxy-ca-cert.pem")


def box(url: str, ca: str) -> None:
    from box_sdk_gen import BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    os.environ["REQUESTS_CA_BUNDLE"] = ca
    BoxClient(BoxDeveloperTokenAuth(token="t")).with_proxy(ProxyConfig(url=url)).tasks.get_task_by_id("404404")


def graph(url: str, ca: str) -> None:
    import httpx
    from kiota_abstractions.authentication import (
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from msgraph import GraphRequestAdapter, GraphServiceClient
    from msgraph_core import GraphClientFactory

    class Token(AccessTokenProvider):
        async def get_authorization_token(self, uri, additional_authentication_context=None):
            return "t"

        def get_allowed_hosts_validator(self):
            return AllowedHostsValidator(["graph.microsoft.com"])

    async def run():
        transport = httpx.AsyncClient(proxy=url, verify=ssl.create_default_context(cafile=ca), trust_env=False)
        client = GraphServiceClient(
            request_adapter=GraphRequestAdapter(
                BaseBearerTokenAuthenticationProvider(Token()),
                client=GraphClientFactory.create_with_default_middleware(client=transport),
            )
        )
        try:
            await client.me.get()
        finally:
            await transport.aclose()

    asyncio.run(run())


def urllib3_retry(url: str, ca: str) -> None:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    s = requests.Session()
    s.trust_env = False
    s.mount(
        "https://",
        HTTPAdapter(max_retries=Retry(total=5, backoff_factor=0.5, status_forcelist=[429, 500, 502, 503, 504])),
    )
    s.get("https://api.box.com/2.0/folders/0", proxies={"https": url}, verify=ca, timeout=60).raise_for_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--miss-status", type=int, help="tapeproxy's --miss-status (default: its own default)")
    args = parser.parse_args()
    print(f"time to failure of a replay miss (--miss-status {args.miss_status or 'default'})")
    print(f"{'client':<36}{'seconds':>9}{'requests':>10}  exception")
    for name, client in [
        ("box-sdk-gen (default retries)", box),
        ("msgraph-sdk (default middleware)", graph),
        ("requests + urllib3 Retry(5, 5xx/429)", urllib3_retry),
    ]:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            proc, url, ca = start(Path(tmp), args.miss_status, report)
            began = time.monotonic()
            try:
                client(url, ca)
                outcome = "none (no failure!)"
            except Exception as e:  # what the app would see
                outcome = type(e).__name__
            seconds = time.monotonic() - began
            proc.stop(timeout=30)
            seen = json.loads(report.read_text())["requests"]
            print(f"{name:<36}{seconds:>9.2f}{seen:>10}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
