"""File content through `tapeproxy demo`: time and the proxy's peak RSS for a Box upload, a
chunked upload (box-sdk-gen's upload_big_file) and a download of each, bytes compared.

    python bench/files.py [--direct-mb 50] [--chunked-mb 100]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from helpers import CliProxy  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def measure(proxy, client, label: str, megabytes: int, upload) -> None:
    """Upload megabytes of random data with `upload`, download it, compare; print times and peak RSS."""
    data = os.urandom(megabytes * 1_000_000)
    t = time.perf_counter()
    f = upload(data)
    up = time.perf_counter() - t
    t = time.perf_counter()
    same = client.downloads.download_file(f.id).read() == data
    down = time.perf_counter() - t
    print(
        f"{label} {len(data) / 1e6:.0f} MB: {up:.2f} s; download_file: {down:.2f} s, same bytes: {same}; "
        f"peak RSS {peak_rss_mb(proxy.proc.pid):.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--direct-mb", type=int, default=50)
    parser.add_argument("--chunked-mb", type=int, default=100)
    args = parser.parse_args()
    from box_sdk_gen import BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.managers.uploads import UploadFileAttributes, UploadFileAttributesParentField
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    with tempfile.TemporaryDirectory() as tmp:
        proxy = CliProxy(["demo", "--quiet"], Path(tmp))
        try:
            os.environ["REQUESTS_CA_BUNDLE"] = proxy.ca
            client = BoxClient(BoxDeveloperTokenAuth(token="bench")).with_proxy(ProxyConfig(url=proxy.url))
            print(f"proxy at start: peak RSS {peak_rss_mb(proxy.proc.pid):.0f} MB")
            attributes = UploadFileAttributes(name="direct.bin", parent=UploadFileAttributesParentField(id="0"))
            measure(
                proxy,
                client,
                "upload_file",
                args.direct_mb,
                lambda data: client.uploads.upload_file(attributes, io.BytesIO(data)).entries[0],
            )
            measure(
                proxy,
                client,
                "upload_big_file",
                args.chunked_mb,
                lambda data: client.chunked_uploads.upload_big_file(io.BytesIO(data), "chunked.bin", len(data), "0"),
            )
        finally:
            proxy.stop()


if __name__ == "__main__":
    main()
