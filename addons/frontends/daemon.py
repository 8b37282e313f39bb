"""`tapeproxy start --detach | stop | status | logs`: a tapeproxy in the background of a shell or a
CI job, by name, with its log in a file, ready once `start` returns.

`start` runs `tapeproxy COMMAND ARGS...` as a child in a session of its own, its output in
`<confdir>/tapeproxy-logs/NAME.log`, and waits for its ready file (--ready-file): the child has
bound its ports and written its URLs by then, so the next CI step can use it at once. The child
announces itself with its name (instances.py), which is how `stop`, `status` and `logs` find it.
Imports nothing of mitmproxy.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..core.errors import InputError
from . import instances

DEFAULT_NAME = "default"
LOG_FOLDER = "tapeproxy-logs"


def _confdir_of(argv: list[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg == "--confdir" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--confdir="):
            return arg.split("=", 1)[1]
    return None


def log_path(confdir: str | None, name: str) -> Path:
    return Path(os.path.expanduser(confdir or instances.DEFAULT_CONFDIR)).absolute() / LOG_FOLDER / f"{name}.log"


def named(confdir: str | None, name: str | None) -> list[dict]:
    """Running instances started by `start`: the one of this name, or (no name) every one."""
    live = [e for e in instances.running(confdir) if e.get("name")]
    return [e for e in live if e["name"] == name] if name else live


def start(args, cli_parser) -> int:
    """Run `tapeproxy COMMAND ARGS...` detached (or in the foreground), under a name."""
    argv = [args.serve, *args.rest]
    cli_parser.parse_args(argv)  # the child's arguments, checked here, where the user reads the error
    confdir = _confdir_of(args.rest)
    name = args.name
    running = named(confdir, name)
    if running:
        raise InputError(
            f"a tapeproxy named {name!r} is running already (pid {running[0]['pid']})",
            hint=f"tapeproxy stop --name {name}, or start another with --name",
        )
    log = Path(args.log) if args.log else log_path(confdir, name)
    ready = Path(args.rest[args.rest.index("--ready-file") + 1]) if "--ready-file" in args.rest else None
    if ready is None:
        ready = log.with_suffix(".ready.json")
        argv += ["--ready-file", str(ready)]
    env = {**os.environ, "TAPEPROXY_START_NAME": name, "TAPEPROXY_START_LOG": str(log)}
    command = [sys.executable, "-m", "tapeproxy.frontends.cli", *argv]
    if not args.detach:  # the foreground: the same process, findable by name
        os.environ.update(TAPEPROXY_START_NAME=name)
        from .cli import main

        return main(argv)
    log.parent.mkdir(parents=True, exist_ok=True)
    ready.unlink(missing_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        if child.poll() is not None:
            tail = _tail(log, 20)
            raise InputError(f"tapeproxy {args.serve} exited ({child.returncode}) before it was ready:\n{tail}")
        if ready.is_file():
            try:
                info = json.loads(ready.read_text())
            except ValueError:  # written atomically; a partial read cannot happen, but be sure
                info = None
            if info:
                where = info.get("proxy") or ", ".join(r["url"] for r in info.get("reverse", []))
                print(
                    f"tapeproxy started {name!r} (pid {child.pid}): {args.serve} at {where} | control "
                    f"{info.get('control')} | CA {info.get('ca')} | log {log} | ready file {ready}"
                )
                if info.get("proxy"):
                    print(f'point this shell at it: eval "$(tapeproxy env --ready-file {ready})"')
                return 0
        time.sleep(0.05)
    child.terminate()
    raise InputError(f"tapeproxy {args.serve} was not ready within {args.wait} s (the log: {log})")


def stop(args) -> int:
    found = named(args.confdir, args.name)
    if not found:
        which = f"named {args.name!r} " if args.name else ""
        raise InputError(f"no tapeproxy {which}is running (started by tapeproxy start)", hint="tapeproxy status")
    if len(found) > 1:
        names = ", ".join(e["name"] for e in found)
        raise InputError(f"{len(found)} are running ({names}): say which with --name")
    entry = found[0]
    pid = int(entry["pid"])
    os.kill(pid, signal.SIGTERM)  # it saves what it recorded, writes its report and prints its summary
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    killed = _alive(pid)
    if killed:
        os.kill(pid, signal.SIGKILL)
    said = _tail(Path(entry["log"]), 40).splitlines() if entry.get("log") else []
    starts = [i for i, line in enumerate(said) if ": summary" in line or ": stopped" in line]
    summary = said[starts[0] :] if starts else []  # its exit summary: the last lines it printed
    outcome = f"KILLED: it did not stop within {args.timeout} s" if killed else "stopped"
    print(f"tapeproxy {entry['name']!r} (pid {pid}) {outcome}")
    if summary and not killed:
        print("\n".join(summary[-12:]))
    return 1 if killed else 0


def status(args) -> int:
    found = instances.running(args.confdir)
    if args.name:
        found = [e for e in found if e.get("name") == args.name]
    rows = []
    for e in found:
        health = _health(e.get("control"))
        rows.append({**e, "health": health})
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no tapeproxy is running" + (f" named {args.name!r}" if args.name else ""))
    for e in rows if not args.json else []:
        where = e.get("proxy") or ", ".join(r["url"] for r in e.get("reverse", []))
        h = e["health"]
        state = f"{h['requests']} request(s), record mode {h['record_mode']}" if h else "control API not answering"
        print(
            f"{e.get('name') or '-'}  pid {e['pid']}  {e.get('command')}  {where}  control {e.get('control')}  {state}"
        )
    return 0 if rows else 1


def logs(args) -> int:
    found = named(args.confdir, args.name or DEFAULT_NAME)
    path = Path(found[0]["log"]) if found else log_path(args.confdir, args.name or DEFAULT_NAME)
    if not path.is_file():
        raise InputError(f"{path}: no log (was it started with tapeproxy start --detach?)")
    sys.stdout.write(_tail(path, args.lines) + "\n" if args.lines else path.read_text(errors="replace"))
    if args.follow and found:
        pid = int(found[0]["pid"])
        with open(path, errors="replace") as f:
            f.seek(0, os.SEEK_END)
            while _alive(pid):
                line = f.readline()
                if line:
                    sys.stdout.write(line)
                    sys.stdout.flush()
                else:
                    time.sleep(0.2)
            sys.stdout.write(f.read())
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(path: Path, lines: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))  # the end of a long log is what is asked for
            return "\n".join(f.read().decode(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _health(control: str | None) -> dict | None:
    if not control:
        return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{control}/health", timeout=3) as resp:
            return json.loads(resp.read())
    except (OSError, ValueError):
        return None
