"""Run inside a mount namespace (unshare -rm): record onto a tiny tmpfs, fill it, free it, fill it again.

MNT is an empty folder the caller mounted a small tmpfs on. Prints one JSON line with what the
cassette held at each step and what the recorder said; test_record.py runs it and checks it.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

import requests
from helpers import CliProxy, LocalHTTPS

from tapeproxy.core import cassette

mnt = Path(sys.argv[1])
target = mnt / "rec.yaml"


def on_disk() -> int:
    try:
        return len(cassette.load(target))
    except Exception:
        return -1  # missing or unreadable


def fill() -> None:
    with open(mnt / "fill", "ab", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:  # full
            pass


def wait_for(proxy, text: str, timeout: float = 5) -> bool:
    return proxy.wait_for(text, timeout)


with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    api = LocalHTTPS(tmp)
    proxy = CliProxy(
        [
            "record",
            "--cassette",
            str(target),
            "--upstream",
            f"graph.microsoft.com=https://127.0.0.1:{api.port}",
            "--upstream-ca",
            str(api.cert),
        ],
        tmp,
    )
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca

    def get(n: int) -> int:
        return s.get(f"https://graph.microsoft.com/v1.0/items/{n}?pad={'x' * 2000}", timeout=10).status_code

    seen: dict = {"answers": [get(n) for n in range(3)]}
    time.sleep(1.5)
    seen["before_full"] = on_disk()
    fill()
    seen["answers"] += [get(n) for n in range(3, 8)]
    seen["said_at_once"] = wait_for(proxy, "could not save")
    seen["while_full"] = on_disk()  # what was on disk stays whole
    (mnt / "fill").unlink()
    seen["said_saved"] = wait_for(proxy, "saved 8 recorded interaction(s)")
    seen["after_freeing"] = on_disk()
    fill()
    seen["answers"] += [get(n) for n in range(8, 10)]
    wait_for(proxy, "could not save 2")
    seen["exit"] = proxy.stop()
    seen["at_exit"] = on_disk()
    seen["output"] = proxy.output
    api.close()
    print(json.dumps(seen))
