"""`tapeproxy ctl`: the control API's command-line client (a presenter's outage switch)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlencode

from ..core.control_api import CONTROL_HOST, CONTROL_TOKEN_HEADER
from ..core.errors import InputError
from . import instances


def _ref(name_or_path: str) -> str:
    """A file is checked here, where its reader may see it (the proxy answers a file that does not
    load with where only), then sent as an absolute path (the proxy's working directory is not ours)."""
    path = Path(name_or_path)
    if not (path.suffix in (".yaml", ".yml") or path.exists()):
        return name_or_path  # a built-in scenario's name
    from ..core import scenario

    scenario.load(path)  # InputError, with file:line and the reason
    return str(path.resolve())


def _call(where: dict, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    """One control API call: to the instance's control port when it has one (every mode), else
    through its proxy, at http://tapeproxy/."""
    control = where.get("control")
    if control:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # straight there
        url, reached = f"{control}{path}", control
    else:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": where["url"]}))
        url, reached = f"http://{CONTROL_HOST}{path}", where["url"]
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = token or os.environ.get("TAPEPROXY_CONTROL_TOKEN")
    if token:
        headers[CONTROL_TOKEN_HEADER] = token
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with opener.open(req, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as e:
        try:
            detail = json.loads(e.read()).get("error", e.reason)
        except ValueError:
            detail = e.reason
        raise InputError(f"{method} {path}: {detail}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise InputError(
            f"cannot reach tapeproxy at {reached}: {reason}",
            hint="start it first, or give --proxy URL, --ready-file PATH or TAPEPROXY_URL",
        ) from None


FILTERS = ("method", "host", "path", "status", "source", "since", "limit")


def _filters(args) -> dict:
    return {k: str(v) for k in FILTERS if (v := getattr(args, k, None)) not in (None, "")}


def run(args) -> dict:
    where = instances.find(args.proxy, getattr(args, "ready_file", None), getattr(args, "confdir", None))
    token = getattr(args, "token", None)

    def call(method: str, path: str, body: dict | None = None) -> dict:
        return _call(where, method, path, body, token=token)

    action, names = args.action, args.names
    if action == "status":
        return call("GET", "/scenarios")
    if action == "use":
        return call("PUT", "/scenarios", {"scenarios": [_ref(n) for n in names]})
    if action == "add":
        return call("POST", "/scenarios", {"scenario": _ref(names[0])})
    if action == "remove":
        return call("DELETE", f"/scenarios/{quote(names[0], safe='')}")
    if action == "clear":
        return call("DELETE", "/scenarios")
    if action == "reset-world":
        return call("POST", "/world/reset")
    if action == "health":
        return call("GET", "/health")
    if action == "requests":
        verb = names[0] if names else "list"
        if verb == "list":
            return call("GET", "/requests?" + urlencode(_filters(args)))
        if verb == "unmatched":
            return call("GET", "/requests/unmatched?" + urlencode(_filters(args)))
        if verb == "show":
            return call("GET", f"/requests/{names[1]}")
        if verb == "count":
            matcher = {k: v for k, v in _filters(args).items() if k != "limit"}
            return call("POST", "/requests/count", matcher)
        return call("DELETE", "/requests")  # clear
    if action == "record":
        verb = names[0]
        if verb == "start":
            body: dict = {"cassette": names[1], "record_mode": args.record_mode or "new_episodes"}
            if args.upstream:
                body["upstream"] = list(args.upstream)
            return call("POST", "/recording", body)
        return call("DELETE" if verb == "stop" else "GET", "/recording")
    return call("POST", "/scenarios/reset")


REQUEST_VERBS = ("list", "show", "unmatched", "count", "clear")
RECORD_VERBS = ("start", "stop", "status")


def check(args) -> None:
    """The verbs' arguments, checked before anything is sent."""
    action, names = args.action, args.names
    if action == "requests":
        verb = names[0] if names else "list"
        most = 2 if verb == "show" else 1
        if verb not in REQUEST_VERBS or len(names) > most or (verb == "show" and len(names) < 2):
            raise InputError("ctl requests takes: [list] | show ID | unmatched | count | clear, and filters")
        if verb == "show" and not names[1].isdigit():
            raise InputError(f"ctl requests show {names[1]!r}: an id is a number (see ctl requests)")
        return
    if action == "record":
        verb = names[0] if names else ""
        if verb not in RECORD_VERBS or len(names) != (2 if verb == "start" else 1):
            raise InputError("ctl record takes: start CASSETTE [--record-mode M] [--upstream HOST=URL] | stop | status")
        return
    wanted = {"use": (1, None), "add": (1, 1), "remove": (1, 1), "export-world": (0, 1)}.get(action, (0, 0))
    if len(names) < wanted[0] or (wanted[1] is not None and len(names) > wanted[1]):
        takes = {"use": "one or more NAME|PATH", "add": "one NAME|PATH", "remove": "one NAME"}
        takes["export-world"] = "at most one FILE"
        raise InputError(f"ctl {action} takes " + takes.get(action, "no arguments"))


def export_world(args) -> str:
    """The running simulation's world as a world file a person reads: YAML, in the world file's layout
    (`--world` takes it back)."""
    import yaml

    class Readable(yaml.SafeDumper):
        pass

    def text(dumper, value: str):  # a file's lines as lines (a block), not one quoted string
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Readable.add_representer(str, text)
    where = instances.find(args.proxy, getattr(args, "ready_file", None), getattr(args, "confdir", None))
    doc = _call(where, "GET", "/world", token=getattr(args, "token", None))
    return yaml.dump(doc, Dumper=Readable, sort_keys=False, allow_unicode=True, width=120)


def describe(state: dict) -> list[str]:
    if "ready" in state:  # health
        record = state["record_mode"]
        return [
            f"ready: tapeproxy {state['version']} (pid {state['pid']}), mode {', '.join(state['mode'])}, "
            f"record mode {record}, simulation {'on' if state['simulate'] else 'off'}, "
            f"{state['requests']} request(s) so far",
            f"control: {state['control_url'] or 'http://tapeproxy/ through the proxy'}",
            "intercepts: " + ", ".join([*state["intercepted_hosts"], *state["intercepted_suffixes"]]),
        ]
    if "requests" in state and "matched" in state:
        shown = len(state["requests"])
        kept = f"the journal keeps {state['kept']} of {state['total']}"
        return [*map(_request_line, state["requests"]), f"{shown} shown of {state['matched']} matching; {kept}"]
    if "count" in state:
        return [str(state["count"])]
    if "cleared" in state:
        return [f"journal cleared: {state['cleared']} request(s) forgotten"]
    if "request" in state and "response" in state:
        return [json.dumps(state, indent=2)]
    if "recording" in state:
        if not state["recording"] and not state["cassette"]:
            dirs = ", ".join(state["record_dirs"]) or "none (start tapeproxy with --record-dir)"
            return [f"not recording; may record to: {dirs}"]
        return [
            f"recording ({state['record_mode']}) to {state['cassette']}: {state['recorded']} recorded, "
            f"{state['saved']} saved" + (f"; WRITE ERROR: {state['write_error']}" if state["write_error"] else "")
        ]
    if state.get("stopped"):
        return [
            f"recording stopped: {state['saved']} of {state['recorded']} interaction(s) saved to "
            f"{state['cassette']}, {state['redacted']} value(s) redacted"
            + ("; replaying it now" if state["replaying"] else "")
        ]
    if state.get("reset"):
        held = ", ".join(f"{n} {name}" for name, n in state.get("counts", {}).items())
        return [
            f"world reset: back to its world file ({held}; {state.get('records', 0)} record(s) in "
            f"{state.get('collections', 0)} collection(s) of the store)"
        ]
    lines: list[str] = []
    for s in state.get("scenarios", []):
        lines.append(f"{s['name']} (state {s['state']})")
        for r in s["rules"]:
            label = f"rule {r['rule']}" + (f" {r['name']}" if r["name"] else "")
            lines.append(f"  {label}: matched {r['matched']}, fired {r['fired']}")
    if not lines:
        lines.append("no active scenarios; built-in: " + ", ".join(state.get("builtin", [])))
    return lines


def _request_line(r: dict) -> str:
    status = "---" if r["status"] is None else r["status"]
    miss = r.get("miss")
    why = f" ({miss['reason']})" if miss else ""
    return f"#{r['id']} {r['time']} {r['method']} {r['url']} -> {status} {r['source']}{why}"
