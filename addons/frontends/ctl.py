"""`tapeproxy ctl`: the control API's command-line client (a presenter's outage switch)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

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


def _call(proxy: str, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    token = token or os.environ.get("TAPEPROXY_CONTROL_TOKEN")
    if token:
        headers[CONTROL_TOKEN_HEADER] = token
    req = urllib.request.Request(f"http://{CONTROL_HOST}{path}", data=data, method=method, headers=headers)
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
            f"cannot reach tapeproxy at {proxy}: {reason}", hint="start it first, or give --proxy URL / TAPEPROXY_URL"
        ) from None


def run(args) -> dict:
    proxy = instances.proxy_url(args.proxy)
    token = getattr(args, "token", None)

    def call(proxy: str, method: str, path: str, body: dict | None = None) -> dict:
        return _call(proxy, method, path, body, token=token)

    action = args.action
    if action == "status":
        return call(proxy, "GET", "/scenarios")
    if action == "use":
        return call(proxy, "PUT", "/scenarios", {"scenarios": [_ref(n) for n in args.names]})
    if action == "add":
        return call(proxy, "POST", "/scenarios", {"scenario": _ref(args.names[0])})
    if action == "remove":
        return call(proxy, "DELETE", f"/scenarios/{args.names[0]}")
    if action == "clear":
        return call(proxy, "DELETE", "/scenarios")
    if action == "reset-world":
        return call(proxy, "POST", "/world/reset")
    return call(proxy, "POST", "/scenarios/reset")


def export_world(args) -> str:
    """The running simulation's world as a world file a person reads: YAML, in the world file's layout
    (`--world` takes it back)."""
    import yaml

    class Readable(yaml.SafeDumper):
        pass

    def text(dumper, value: str):  # a file's lines as lines (a block), not one quoted string
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Readable.add_representer(str, text)
    doc = _call(instances.proxy_url(args.proxy), "GET", "/world", token=getattr(args, "token", None))
    return yaml.dump(doc, Dumper=Readable, sort_keys=False, allow_unicode=True, width=120)


def describe(state: dict) -> list[str]:
    if state.get("reset"):
        held = ", ".join(f"{n} {name}" for name, n in state.get("counts", {}).items())
        return [
            f"world reset: back to its world file ({held}; {state.get('records', 0)} record(s) in "
            f"{state.get('collections', 0)} collection(s) of the store)"
        ]
    lines = []
    for s in state.get("scenarios", []):
        lines.append(f"{s['name']} (state {s['state']})")
        for r in s["rules"]:
            label = f"rule {r['rule']}" + (f" {r['name']}" if r["name"] else "")
            lines.append(f"  {label}: matched {r['matched']}, fired {r['fired']}")
    if not lines:
        lines.append("no active scenarios; built-in: " + ", ".join(state.get("builtin", [])))
    return lines
