"""Running tapeproxies, findable without reading their start-up line: each `demo`, `replay` and
`record` writes `<confdir>/tapeproxy-running/<pid>.json` (its proxy URL) once it listens and
removes it when it stops, so `tapeproxy env` and `tapeproxy ctl` find a `--port 0` instance.

A file whose process is gone (killed) is ignored and removed. Where several run, the newest wins,
and the caller says so. Imports nothing of mitmproxy: `ctl` must start fast.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from ..core import writer

DEFAULT_CONFDIR = "~/.mitmproxy"  # mitmproxy's CONF_DIR, named here so that ctl need not import it
FOLDER = "tapeproxy-running"
DEFAULT_URL = "http://127.0.0.1:8080"


def _folder(confdir: str | None) -> Path:
    return Path(os.path.expanduser(confdir or DEFAULT_CONFDIR)).absolute() / FOLDER


def announce(url: str, confdir: str | None, command: str) -> Path:
    """This process listens at url: written for env and ctl to find; remove the file at exit."""
    path = _folder(confdir) / f"{os.getpid()}.json"
    entry = {"url": url, "pid": os.getpid(), "command": command, "started": time.time()}
    writer.replace_atomic(path, json.dumps(entry).encode())
    return path


def withdraw(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def running(confdir: str | None) -> list[dict]:
    """The live instances of this confdir, newest first."""
    found = []
    folder = _folder(confdir)
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            entry = json.loads(path.read_text())
            pid = int(entry["pid"])
            os.kill(pid, 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)  # its process is gone
            continue
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(entry)
    return sorted(found, key=lambda e: -float(e.get("started", 0)))


def proxy_url(given: str | None, confdir: str | None = None) -> str:
    """The proxy to talk to: --proxy, else $TAPEPROXY_URL, else the newest running instance, else
    the default address."""
    if given or os.environ.get("TAPEPROXY_URL"):
        return given or os.environ["TAPEPROXY_URL"]
    live = running(confdir)
    if len(live) > 1:
        others = ", ".join(f"{e['url']} (pid {e['pid']})" for e in live[1:])
        print(
            f"tapeproxy: {len(live)} instances are running; using the newest, {live[0]['url']} (pid "
            f"{live[0]['pid']}); --proxy picks another: {others}",
            file=sys.stderr,
        )
    return str(live[0]["url"]) if live else DEFAULT_URL
