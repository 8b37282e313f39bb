"""Running tapeproxies, findable without reading their start-up line: each `demo`, `replay` and
`record` writes `<confdir>/tapeproxy-running/<pid>.json` (what its --ready-file holds: proxy and
control URLs, CA, pid, version) once it listens and removes it when it stops, so `tapeproxy env`
and `tapeproxy ctl` find a `--port 0` instance, reverse ones included.

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
from ..core.errors import InputError

DEFAULT_CONFDIR = "~/.mitmproxy"  # mitmproxy's CONF_DIR, named here so that ctl need not import it
FOLDER = "tapeproxy-running"
DEFAULT_URL = "http://127.0.0.1:8080"


def _folder(confdir: str | None) -> Path:
    return Path(os.path.expanduser(confdir or DEFAULT_CONFDIR)).absolute() / FOLDER


def announce(info: dict, confdir: str | None) -> Path:
    """This process listens (info: its ready file's content): written for env and ctl to find;
    remove the file at exit."""
    path = _folder(confdir) / f"{os.getpid()}.json"
    entry = {**info, "url": info.get("proxy"), "pid": os.getpid(), "started": time.time()}
    for key in ("name", "log"):  # set by `tapeproxy start`, for stop, status and logs
        if os.environ.get(f"TAPEPROXY_START_{key.upper()}"):
            entry[key] = os.environ[f"TAPEPROXY_START_{key.upper()}"]
    writer.replace_atomic(path, json.dumps(entry).encode())
    return path


def read_ready_file(path: str) -> dict:
    """A --ready-file's content; an InputError saying why not."""
    try:
        entry = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"{path}: no such ready file", hint="is tapeproxy running with --ready-file?") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a tapeproxy ready file ({e})") from None
    if not isinstance(entry, dict) or "pid" not in entry:
        raise InputError(f"{path}: not a tapeproxy ready file")
    return {**entry, "url": entry.get("proxy")}


def find(given_proxy: str | None, ready_file: str | None = None, confdir: str | None = None) -> dict:
    """The instance to talk to, {"url": proxy URL or None, "control": control URL or None}:
    --proxy, else --ready-file, else $TAPEPROXY_URL, else the newest running instance, else the
    default address."""
    if given_proxy:
        return {"url": given_proxy, "control": None}
    if ready_file or os.environ.get("TAPEPROXY_READY_FILE"):
        return read_ready_file(ready_file or os.environ["TAPEPROXY_READY_FILE"])
    if os.environ.get("TAPEPROXY_URL"):
        return {"url": os.environ["TAPEPROXY_URL"], "control": os.environ.get("TAPEPROXY_CONTROL_URL")}
    live = running(confdir)
    if len(live) > 1:
        others = ", ".join(f"{_where(e)} (pid {e['pid']})" for e in live[1:])
        print(
            f"tapeproxy: {len(live)} instances are running; using the newest, {_where(live[0])} (pid "
            f"{live[0]['pid']}); --proxy or --ready-file picks another: {others}",
            file=sys.stderr,
        )
    return live[0] if live else {"url": DEFAULT_URL, "control": None}


def _where(entry: dict) -> str:
    return str(entry.get("url") or entry.get("control"))


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


def proxy_url(given: str | None, confdir: str | None = None, ready_file: str | None = None) -> str:
    """The proxy to point clients at (`tapeproxy env`)."""
    entry = find(given, ready_file, confdir)
    if not entry.get("url"):
        raise InputError(
            "that tapeproxy is a reverse proxy: its clients use its base URL, not a proxy",
            hint="see its ready file's reverse URLs",
        )
    return str(entry["url"])
