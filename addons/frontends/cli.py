"""The `tapeproxy` command: a thin layer that turns arguments into mitmproxy options."""

from __future__ import annotations

import argparse
import errno
import json
import os
import shlex
import socket
import sys
from pathlib import Path

from .. import __version__, bundled
from ..core import cassette, limits, matching, writer, yamlfile
from ..core.addresses import is_loopback
from ..core.errors import InputError
from . import instances


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1); another needs --proxy-auth or --allow-remote",
    )
    parser.add_argument("--proxy-auth", metavar="USER:PASS", help="clients must send these proxy credentials")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="listen on a non-loopback --host without --proxy-auth (anyone who reaches it may use it)",
    )
    parser.add_argument(
        "--allow-local-targets",
        action="store_true",
        help="let non-loopback clients reach this host's own services (loopback, link-local, its "
        "own addresses) through the proxy",
    )
    parser.add_argument(
        "--control-token",
        metavar="TOKEN",
        help="let non-loopback callers use the control API with this token (X-Tapeproxy-Token)",
    )
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080)")
    parser.add_argument(
        "--control-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve the control API on this port too, in every mode (default: 0, a free one; -1: none; "
        "it is always at http://tapeproxy/ through the proxy)",
    )
    parser.add_argument(
        "--ready-file",
        metavar="PATH",
        help="once listening, write JSON here (proxy URL, control URL, CA, pid, version); removed at exit",
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="the line per request: text, or json (one object per line on stdout, the log on stderr)",
    )
    parser.add_argument(
        "--journal-size",
        type=int,
        default=5000,
        metavar="N",
        help="requests the control API's journal keeps, the newest (default: %(default)s)",
    )
    parser.add_argument(
        "--block-unknown-hosts",
        action="store_true",
        help="refuse hosts tapeproxy does not answer (403 naming the host) instead of tunnelling them",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="HOST",
        help="with --block-unknown-hosts, let this host (or *.example.com) through to the network (repeatable)",
    )
    parser.add_argument(
        "--record-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the control API may record cassettes to (POST /recording, ctl record start); repeatable",
    )
    parser.add_argument("--confdir", help="mitmproxy confdir holding the CA (default: ~/.mitmproxy)")
    parser.add_argument(
        "--reverse",
        action="append",
        default=[],
        metavar="URL[@PORT]",
        help="serve clients that use this base URL instead of a proxy, e.g. https://graph.microsoft.com "
        "(repeatable; later ones listen on the next ports)",
    )
    parser.add_argument(
        "--intercept-host",
        action="append",
        default=[],
        metavar="HOST",
        help="intercept this host too (repeatable); others are tunnelled untouched",
    )
    parser.add_argument(
        "--match-on",
        default=",".join(matching.DEFAULT_MATCH_ON),
        metavar="MATCHERS",
        help="comma-separated vcrpy matchers: " + ", ".join(matching.MATCHERS) + " (default: %(default)s)",
    )
    parser.add_argument(
        "--match-header",
        action="append",
        default=[],
        metavar="NAME",
        help="a request header that must match when a recording holds it (repeatable), besides "
        "each API's own significant headers",
    )
    parser.add_argument(
        "--miss-status", type=int, default=404, help="status of a miss (default: 404, which no official SDK retries)"
    )
    parser.add_argument(
        "--no-repeat-last",
        action="store_true",
        help="after the last recording of a repeated request, answer a miss instead of repeating it",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME|PATH",
        help="apply a scenario (built-in name or YAML file) in front of everything else; repeatable",
    )
    parser.add_argument(
        "--scenario-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the control API (tapeproxy ctl) may load scenario files from (repeatable); "
        "the folders of --scenario files are allowed too",
    )
    limits_group = parser.add_argument_group("limits (each answered as the API would; see README, Limits)")
    limits_group.add_argument(
        "--max-body",
        default=limits.DEFAULT_MAX_BODY,
        metavar="SIZE",
        help="largest request body of an API call, e.g. 512k, 4m (default: %(default)s)",
    )
    limits_group.add_argument(
        "--max-upload-body",
        default=limits.DEFAULT_MAX_UPLOAD_BODY,
        metavar="SIZE",
        help="largest request body of an upload: Box's upload host, Graph .../content and "
        "upload sessions (default: %(default)s)",
    )
    limits_group.add_argument(
        "--max-header",
        default=limits.DEFAULT_MAX_HEADER,
        metavar="SIZE",
        help="largest HTTP/1 request head (default: %(default)s)",
    )
    limits_group.add_argument(
        "--idle-timeout",
        type=int,
        default=limits.DEFAULT_IDLE_TIMEOUT,
        metavar="SECONDS",
        help="close a client connection idle this long (default: %(default)s)",
    )
    limits_group.add_argument(
        "--max-connections",
        type=int,
        default=limits.DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="most client connections at once; the idlest makes room (default: %(default)s)",
    )
    parser.add_argument("--report", metavar="FILE", help="at exit, write the summary here (.json, or Markdown)")
    parser.add_argument("--quiet", action="store_true", help="no line per request")
    parser.add_argument(
        "--guidance-off",
        action="append",
        default=[],
        metavar="RULE",
        help="a guidance rule not to apply (repeatable; all: none); see docs/permissions.md#guidance",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="OPTION=VALUE",
        help="any mitmproxy option, as with mitmdump --set",
    )


def _recording(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="HOST=URL",
        help="send HOST's traffic to URL (staging, local) while the cassette still says HOST",
    )
    parser.add_argument("--upstream-ca", metavar="PEM", help="trust this CA for upstream servers")
    parser.add_argument(
        "--body-files",
        metavar="SIZE",
        default="",
        help="keep each recorded body over SIZE (e.g. 1m) in CASSETTE.bodies/<sha256> instead of the YAML, and "
        "record bodies over --max-body/--max-upload-body by streaming them there (a tapeproxy extension: "
        "vcrpy reads such a cassette but serves a note in place of those bodies)",
    )
    _redaction(parser)


def _redaction(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--redact-header", action="append", default=[], metavar="NAME", help="redact this header too")
    parser.add_argument(
        "--redact-query", action="append", default=[], metavar="NAME", help="redact this query parameter too"
    )
    parser.add_argument(
        "--redact-json",
        action="append",
        default=[],
        metavar="PATH",
        help="redact this JSON path in bodies, e.g. user.password or value.*.token",
    )


def _world(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--world", metavar="FILE", help="world file the simulation starts from (default: built in)")
    parser.add_argument(
        "--state", metavar="FILE", help="keep the simulated world here: saved after every change, loaded at start"
    )
    parser.add_argument(
        "--strict-ids",
        action="store_true",
        help="unknown ids answer the API's 404, as the real services do (default: made up on first read, then kept)",
    )
    parser.add_argument(
        "--strict-permissions",
        action="store_true",
        help="Graph calls whose token has no claims (Bearer demo) are refused as a token without permissions "
        "(default: such tokens may do anything; tokens with scp or roles are always checked)",
    )
    parser.add_argument(
        "--max-upload-sessions",
        default=limits.DEFAULT_MAX_UPLOAD_SESSIONS,
        metavar="SIZE",
        help="what the simulation's upload sessions in progress may hold together (default: %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tapeproxy",
        description=("Record/replay mock proxy for Microsoft Graph and Box. Point HTTPS_PROXY at it and trust its CA."),
    )
    parser.add_argument("--version", action="version", version=f"tapeproxy {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="serve a simulated Graph print-task and Box task world, with the bundled cassettes behind it, offline",
    )
    _common(demo)
    _world(demo)
    demo.add_argument(
        "--upstream-ca", metavar="PEM", help="trust this CA for upstream servers (recording started at run time)"
    )
    replay = sub.add_parser("replay", help="serve the given cassettes, offline")
    replay.add_argument("cassettes", nargs="+", metavar="CASSETTE", help="vcrpy cassette files, or directories of them")
    _common(replay)
    record = sub.add_parser("record", help="pass traffic to the real (or mapped) service and save it as a cassette")
    record.add_argument("--cassette", required=True, metavar="PATH", help="cassette file to write")
    record.add_argument(
        "--record-mode",
        choices=["once", "new_episodes", "all"],
        default="once",
        help="vcrpy record mode (default: once)",
    )
    _common(record)
    _recording(record)
    replay.add_argument(
        "--record-mode",
        choices=["none", "once", "new_episodes", "all"],
        default="none",
        help="vcrpy record mode; new_episodes replays what exists and records what is missing",
    )
    replay.add_argument("--cassette", metavar="PATH", help="where recordings go (default: the first cassette)")
    replay.add_argument(
        "--simulate",
        action="store_true",
        help="answer Graph print tasks and Box tasks from the simulation before the cassettes",
    )
    replay.add_argument(
        "--validate",
        action="store_true",
        help="check each request a cassette answers against the official specs and flag in the log and the "
        "summary those the real API would refuse (the cassette's answer is still served)",
    )
    replay.add_argument(
        "--spec",
        action="store_true",
        help="answer Box and Graph requests no cassette holds from the APIs' official specs (generated, "
        "marked X-Tapeproxy-Source: spec), instead of as misses",
    )
    _world(replay)
    _recording(replay)
    imp = sub.add_parser(
        "import",
        help="turn HAR files (browser, Dev Proxy, mitmproxy hardump) or mitmproxy flow "
        "files into a cassette, redacted as recording is",
    )
    imp.add_argument("files", nargs="+", metavar="FILE", help="HAR files and mitmproxy flow files (mitmdump -w)")
    imp.add_argument("-o", "--output", required=True, metavar="CASSETTE", help="cassette file to write")
    exists = imp.add_mutually_exclusive_group()
    exists.add_argument("--append", action="store_true", help="add to the cassette if it exists")
    exists.add_argument("--force", action="store_true", help="replace the cassette if it exists")
    imp.add_argument(
        "--intercept-host",
        action="append",
        default=[],
        metavar="HOST",
        help="keep requests to this host too (default: only Graph and Box hosts)",
    )
    imp.add_argument("--all-hosts", action="store_true", help="keep requests to every host")
    _redaction(imp)
    web = sub.add_parser("web", help="the same, in mitmweb: every flow marked and commented with what served it")
    web.add_argument(
        "cassettes",
        nargs="*",
        metavar="CASSETTE",
        help="cassettes to replay (default: the demo: simulation and bundled cassettes)",
    )
    _common(web)
    _world(web)
    web.add_argument("--web-port", type=int, default=8081, help="mitmweb's port (default: 8081; 0 picks one)")
    web.add_argument("--no-browser", action="store_true", help="do not open a browser")
    ctl = sub.add_parser(
        "ctl", help="a running tapeproxy: scenarios, the world, the request journal, health and recording"
    )
    ctl.add_argument(
        "action",
        choices=[
            "status",
            "use",
            "add",
            "remove",
            "clear",
            "reset",
            "reset-world",
            "export-world",
            "health",
            "requests",
            "record",
        ],
        help="status; use NAME|PATH... (exactly these); add NAME|PATH; remove NAME; clear; "
        "reset (counters, sequences, states and time windows start again); "
        "reset-world (the simulation back to its world file); "
        "export-world [FILE] (the simulated world now, as a world file: to FILE, or printed); "
        "health; requests [list | show ID | unmatched | count | clear] (with the filters below); "
        "record start CASSETTE | stop | status",
    )
    ctl.add_argument("names", nargs="*", metavar="ARG")
    ctl.add_argument(
        "--proxy", metavar="URL", help="the running tapeproxy (default: $TAPEPROXY_URL, else the newest running one)"
    )
    ctl.add_argument("--ready-file", metavar="PATH", help="the running tapeproxy's --ready-file")
    ctl.add_argument("--confdir", help="the confdir the running tapeproxy uses (default: ~/.mitmproxy)")
    ctl.add_argument(
        "--token",
        help="the proxy's --control-token, for a tapeproxy on another host (default: $TAPEPROXY_CONTROL_TOKEN)",
    )
    ctl.add_argument("--json", action="store_true", help="print the control API's JSON answer")
    journal = ctl.add_argument_group("requests filters")
    journal.add_argument("--method", help="e.g. GET, or GET,POST")
    journal.add_argument("--host", help="a glob, e.g. api.box.com")
    journal.add_argument("--path", help="a glob, e.g. /2.0/tasks/*")
    journal.add_argument("--status", help="e.g. 404, or 4xx,5xx")
    journal.add_argument("--source", help="what served it: simulation, cassette, scenario, spec, miss, ...")
    journal.add_argument("--since", help="after this request id, or from this ISO 8601 time")
    journal.add_argument("--limit", type=int, help="the newest this many (default 100)")
    recording = ctl.add_argument_group("record start")
    recording.add_argument("--record-mode", choices=["once", "new_episodes", "all"], help="default: new_episodes")
    recording.add_argument("--upstream", action="append", default=[], metavar="HOST=URL")
    start = sub.add_parser("start", help="run demo, replay or record under a name, in the background with --detach")
    start.add_argument("--detach", action="store_true", help="in the background: return once it is ready")
    start.add_argument("--name", default="default", help="what stop, status and logs call it (default: default)")
    start.add_argument("--log", metavar="FILE", help="its output (default: <confdir>/tapeproxy-logs/NAME.log)")
    start.add_argument("--wait", type=float, default=60, metavar="SECONDS", help="for it to be ready (default: 60)")
    start.add_argument("serve", choices=["demo", "replay", "record"], metavar="COMMAND", help="demo, replay or record")
    start.add_argument("rest", nargs=argparse.REMAINDER, metavar="ARGS", help="that command's arguments")
    stop = sub.add_parser("stop", help="stop a tapeproxy that tapeproxy start started (it prints its summary)")
    stop.add_argument("--name", help="which (default: the only one running)")
    stop.add_argument("--timeout", type=float, default=30, metavar="SECONDS", help="then it is killed (default: 30)")
    stop.add_argument("--confdir", help="the confdir it was started with (default: ~/.mitmproxy)")
    status = sub.add_parser("status", help="the running tapeproxies: name, pid, URLs, requests so far")
    status.add_argument("--name", help="only this one (exit status 1 if it is not running)")
    status.add_argument("--json", action="store_true", help="as JSON")
    status.add_argument("--confdir", help="mitmproxy confdir (default: ~/.mitmproxy)")
    logs = sub.add_parser("logs", help="the log of a tapeproxy started with start --detach")
    logs.add_argument("--name", help="which (default: default)")
    logs.add_argument("-n", "--lines", type=int, metavar="N", help="only the last N lines")
    logs.add_argument("-f", "--follow", action="store_true", help="then follow it until it stops")
    logs.add_argument("--confdir", help="mitmproxy confdir (default: ~/.mitmproxy)")
    lint = sub.add_parser("lint", help="check cassettes, scenarios and world files; print file:line problems")
    lint.add_argument("paths", nargs="+", metavar="FILE|DIR")
    env = sub.add_parser("env", help="print the lines that point a shell's clients at a running tapeproxy")
    env.add_argument(
        "--shell",
        choices=["bash", "zsh", "sh", "fish", "powershell"],
        default="bash",
        help="syntax of the lines (default: bash, also right for zsh and sh)",
    )
    env.add_argument("--proxy", metavar="URL", help="the proxy (default: $TAPEPROXY_URL, else the newest running one)")
    env.add_argument("--ready-file", metavar="PATH", help="the running tapeproxy's --ready-file")
    env.add_argument("--confdir", help="mitmproxy confdir holding the CA (default: ~/.mitmproxy)")
    perms = sub.add_parser(
        "permissions", help="the least-privileged Graph permissions recorded calls need, offline (Markdown or JSON)"
    )
    perms.add_argument("paths", nargs="+", metavar="CASSETTE|HAR")
    perms.add_argument("--json", action="store_true", help="the report as JSON")
    token = sub.add_parser("token", help="print a token as the simulated sign-in issues them, for curl and tests")
    token.add_argument("--scopes", nargs="+", default=[], metavar="NAME", help="delegated permissions (scp)")
    token.add_argument("--roles", nargs="+", default=[], metavar="NAME", help="application permissions (roles)")
    token.add_argument("--user", default="", metavar="UPN", help="who signed in (default: the world's /me)")
    token.add_argument("--api", choices=["graph", "box"], default="graph", help="whose token (default: graph)")
    token.add_argument("--client-id", default="", help="the app it is issued to (appid)")
    token.add_argument("--tenant", default="", help="the tenant (tid)")
    token.add_argument("--lifetime", type=int, default=3599, metavar="S", help="seconds until it expires")
    ca = sub.add_parser("ca", help="print the path of the CA certificate clients must trust")
    ca.add_argument("--confdir", help="mitmproxy confdir (default: ~/.mitmproxy)")
    return parser


def cassette_files(paths) -> list[str]:
    """Files as given; a directory stands for the cassettes under it, as `lint` sees them
    (yamlfile.yaml_files: nested folders too, in path order).

    A YAML file in a directory that is not a cassette (a scenario, a CI config) is skipped with one
    line on stderr; only a directory left with no cassette at all is an error.
    """
    out: list[str] = []
    for path in map(Path, paths):
        if not path.is_dir():
            out.append(str(path))
            continue
        found = 0
        for p in yamlfile.yaml_files([path]):
            if cassette.looks_like_cassette(p):
                out.append(str(p))
                found += 1
            else:
                print(f"tapeproxy: skipping {p}: not a cassette (no top-level 'interactions:')", file=sys.stderr)
        if not found:
            raise InputError(
                "no cassettes in this directory",
                str(path),
                hint="a vcrpy cassette is a .yaml file holding `interactions:` and `version: 1`",
            )
    return out


def _check_port_free(host: str, port: int, remote_allowed: bool) -> None:
    """Say in tapeproxy's words, naming --host and --port, that an address cannot be listened on
    (mitmproxy says it twice, in its own option names). A remote address tapeproxy would refuse
    anyway is left to that refusal, which says what it takes."""
    if not remote_allowed and not is_loopback(host):
        return
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio binds: TIME_WAIT is no obstacle
            s.bind((host, port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise InputError(
                f"{host}:{port} is already in use (another tapeproxy?)",
                hint="choose another --port, or --port 0 for a free one",
            ) from None
        raise InputError(
            f"cannot listen on --host {host} --port {port}: {e.strerror or e}",
            hint="--host takes an address of this machine, e.g. 127.0.0.1 or ::1",
        ) from None


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _modes(args) -> list[str]:
    if not args.reverse:
        return ["regular"]
    modes = []
    for i, spec in enumerate(args.reverse):
        url, _, port = spec.partition("@")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--reverse {spec!r}: expected a URL such as https://graph.microsoft.com")
        if not port:
            # mitmproxy refuses two servers on "port 0" of one address: pick the later ones here.
            port = str(args.port + i if args.port else (0 if i == 0 else _free_port(args.host)))
        modes.append(f"reverse:{url}@{args.host}:{port}")
    return modes


def settings_from(args, cassettes: list[str]) -> dict:
    settings = {
        "listen_host": args.host,
        "listen_port": args.port,
        "mode": _modes(args),
        "tapeproxy_cassettes": cassettes,
        "tapeproxy_hosts": args.intercept_host,
        "tapeproxy_match_on": list(matching.parse_match_on(args.match_on)),
        "tapeproxy_match_headers": args.match_header,
        "tapeproxy_miss_status": args.miss_status,
        "tapeproxy_repeat_last": not args.no_repeat_last,
        "tapeproxy_scenarios": args.scenario,
        "tapeproxy_scenario_dirs": [str(Path(d).resolve()) for d in args.scenario_dir]
        + sorted({str(Path(s).resolve().parent) for s in args.scenario if Path(s).is_file()}),
        "tapeproxy_simulate": (
            args.command == "demo" or getattr(args, "simulate", False) or (args.command == "web" and not args.cassettes)
        ),
        "tapeproxy_spec": (
            args.command == "demo" or getattr(args, "spec", False) or (args.command == "web" and not args.cassettes)
        ),
        "tapeproxy_validate": getattr(args, "validate", False),
        "tapeproxy_world": getattr(args, "world", None) or "",
        "tapeproxy_state": getattr(args, "state", None) or "",
        "tapeproxy_max_upload_sessions": getattr(args, "max_upload_sessions", limits.DEFAULT_MAX_UPLOAD_SESSIONS),
        "tapeproxy_strict_ids": getattr(args, "strict_ids", False),
        "tapeproxy_strict_permissions": getattr(args, "strict_permissions", False),
        "tapeproxy_guidance_off": args.guidance_off,
        "tapeproxy_journal": not args.quiet,
        "tapeproxy_log_format": args.log_format,
        "tapeproxy_journal_size": args.journal_size,
        "tapeproxy_control_port": args.control_port,
        "tapeproxy_block_unknown_hosts": args.block_unknown_hosts,
        "tapeproxy_allowed_hosts": args.allow_host,
        "tapeproxy_record_dirs": [str(Path(d).resolve()) for d in args.record_dir]
        + ([str(Path(args.cassette).resolve().parent)] if getattr(args, "cassette", None) else []),
        "tapeproxy_report": args.report or "",
        "tapeproxy_allow_remote": args.allow_remote,
        "tapeproxy_allow_local_targets": args.allow_local_targets,
        "tapeproxy_control_token": args.control_token or "",
        "tapeproxy_max_body": args.max_body,
        "tapeproxy_max_upload_body": args.max_upload_body,
        "tapeproxy_max_header": args.max_header,
        "tapeproxy_idle_timeout": args.idle_timeout,
        "tapeproxy_max_connections": args.max_connections,
    }
    if args.proxy_auth:
        if ":" not in args.proxy_auth:
            raise InputError(f"--proxy-auth {args.proxy_auth!r}: expected USER:PASS")
        settings["proxyauth"] = args.proxy_auth
    if args.confdir:
        settings["confdir"] = args.confdir
    if hasattr(args, "upstream"):  # recording's settings: also for recording started at run time
        settings.update(
            tapeproxy_upstreams=args.upstream,
            tapeproxy_redact_headers=args.redact_header,
            tapeproxy_redact_query=args.redact_query,
            tapeproxy_redact_json=args.redact_json,
            tapeproxy_body_files=args.body_files,
        )
    mode = getattr(args, "record_mode", "none")
    if mode != "none":
        settings.update(tapeproxy_record_mode=mode, tapeproxy_record_to=args.cassette or cassettes[0])
    if getattr(args, "upstream_ca", None):  # also for recording started later, over the control API
        settings["ssl_verify_upstream_trusted_ca"] = args.upstream_ca
    return settings


def _url(addr: tuple[str, int]) -> str:
    host, port = addr
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _banner(command: str, args, bound, control: str | None, web: str | None = None) -> str:
    from ..runtime.ca import client_env, ensure_ca  # mitmproxy's certs: only the commands that serve need them

    ca = ensure_ca(args.confdir)
    control_part = (f" | control {control}" if control else "") + (f" | web {web}" if web else "")
    if args.reverse:  # a server may report one address twice (dual-stack): each target once
        where = ", ".join(dict.fromkeys(f"{mode.data} at {_url(addr)}" for mode, addr in bound))
        return f"tapeproxy {command}: reverse proxy for {where} | CA {ca}{control_part}"
    url = _url(bound[0][1])
    exports = "export " + " ".join(f"{k}={shlex.quote(v)}" for k, v in client_env(url, args.confdir).items())
    return f"tapeproxy {command}: proxy {url} | CA {ca}{control_part} | {exports}"


def _run(command: str, args, cassettes: list[str]) -> int:
    from ..runtime.lean_import import lean_addons_package

    lean_addons_package()  # before mitmproxy.master: start-up is what `demo` users wait for
    from ..runtime.master import Ready, serve

    settings = settings_from(args, cassettes)
    web = command == "web"
    if web:
        settings.update(
            web_host=args.host,
            web_port=args.web_port,
            web_open_browser=not args.no_browser,
            web_columns=WEB_COLUMNS,
        )
    for mode in settings["mode"]:
        port = int(mode.rsplit(":", 1)[1]) if "@" in mode else args.port
        _check_port_free(args.host, port, bool(args.allow_remote or args.proxy_auth))
    if args.control_port > 0:  # said now, in tapeproxy's words, not as an addon error once running
        _check_port_free(args.host, args.control_port, bool(args.allow_remote or args.proxy_auth))

    announced: list[Path] = []

    def ready(bound):
        from mitmproxy import ctx

        from ..runtime.ca import ensure_ca

        info = {
            "proxy": None if args.reverse else _url(bound[0][1]),
            "reverse": [{"target": str(m.data), "url": _url(a)} for m, a in bound] if args.reverse else [],
            "control": ctx.master.addons.get("tapeproxy_control").url,
            "ca": str(ensure_ca(args.confdir)),
            "pid": os.getpid(),
            "version": __version__,
            "command": command,
        }
        if web:
            info["web"] = f"{_url((args.host, args.web_port))}/"
        if args.log_format == "json":
            print(json.dumps({"event": "listening", **info}), flush=True)
        else:
            print(_banner(command, args, bound, info["control"], info.get("web")), flush=True)
        # findable by env and ctl, whatever port it got: the ready file asked for, and the confdir's
        announced.append(instances.announce(info, args.confdir))
        if args.ready_file:
            writer.replace_atomic(args.ready_file, json.dumps(info, indent=2).encode() + b"\n")
            announced.append(Path(args.ready_file))

    from mitmproxy import exceptions

    try:
        master = serve(settings, [Ready(ready)], args.set, web=web)
    except exceptions.OptionsError as e:  # bad cassettes or options, already worded file:line
        raise InputError(str(e)) from None
    finally:
        for path in announced:
            instances.withdraw(path)
    tp = master.addons.get("tapeproxy")
    misses = tp.miss.count
    recorder = tp.recorder
    summary = f"; {misses} request(s) missed" if misses else ""
    tunnelled = tp.guard.tunnelled
    if tunnelled:
        summary += (
            f"; {sum(tunnelled.values())} connection(s) to hosts not intercepted went to the network ("
            + ", ".join(f"{host}: {n}" for host, n in tunnelled.most_common(5))
            + (", ..." if len(tunnelled) > 5 else "")
            + ")"
        )
    if tp.spec.flagged:
        summary += f"; {tp.spec.flagged} request(s) a cassette answered that the real API would refuse (--validate)"
    early = tp.watch.violations
    if early:
        summary += f"; {early} retry(ies) came back before their Retry-After"
    fired = tp.scenarios.fired
    if fired:
        summary += (
            f"; {sum(fired.values())} scenario action(s) ("
            + ", ".join(f"{label}: {n}" for label, n in fired.most_common(5))
            + ")"
        )
    bounds = tp.limits
    if bounds.refused:
        summary += f"; {bounds.refused} request(s) or connection(s) refused over --max-* limits"
    if bounds.streamed:
        summary += (
            f"; {bounds.streamed} exchange(s) NOT RECORDED: bodies over --max-body/--max-upload-body were streamed"
        )
    status = 0
    unsaved = recorder.unsaved + recorder.lost
    if unsaved:  # the truth, and a failing exit status: the cassette lacks what the clients were given
        summary += (
            f"; COULD NOT SAVE {unsaved} of {recorder.recorded + recorder.lost} recorded interaction(s) "
            f"to {master.options.tapeproxy_record_to}: {recorder.write_error or 'see the log'}"
        )
        status = 1
    elif recorder.live:
        summary += (
            f"; recorded {recorder.recorded} interaction(s), {recorder.redactor.count} value(s) redacted, "
            f"in {master.options.tapeproxy_record_to}"
        )
    if args.log_format == "json":
        from ..journal import summary as journal_summary

        done = {"event": "stopped", "status": status, "text": f"stopped{summary}", **journal_summary(tp.journal)}
        print(json.dumps(done), flush=True)
        return status
    table = tp.journal.summary_table()
    if table:
        print("\n".join([f"tapeproxy {command}: summary", *table]), flush=True)
    print(f"tapeproxy {command}: stopped{summary}", flush=True)
    return status


WEB_COLUMNS = ["icon", "method", "path", "status", "comment", "size", "time"]  # comment: what served it


def _web(args) -> int:
    """mitmweb's UI in this process, tapeproxy in it: the demo's start-up line and exit summary,
    and a column saying what served each flow (its comment: the source, or why it missed)."""
    cassettes = cassette_files(args.cassettes) if args.cassettes else cassette_files([bundled("cassettes")])
    if args.web_port == 0:  # mitmweb would say "port 0": pick the port here, so the start-up line is true
        args.web_port = _free_port(args.host)
    return _run("web", args, cassettes)


def _ctl(args) -> int:
    from . import ctl

    ctl.check(args)
    if args.action == "export-world":
        text = ctl.export_world(args)
        if args.names:
            writer.replace_atomic(args.names[0], text.encode())
            print(f"world written to {args.names[0]}")
        else:
            sys.stdout.write(text)
        return 0
    answer = ctl.run(args)
    print(json.dumps(answer, indent=2) if args.json else "\n".join(ctl.describe(answer)))
    return 0


def _import(args) -> int:
    from ..core.redact import Redactor
    from . import importer

    redactor = Redactor(args.redact_header, args.redact_query, args.redact_json)
    report = importer.run(
        args.files,
        args.output,
        extra_hosts=args.intercept_host,
        all_hosts=args.all_hosts,
        append=args.append,
        force=args.force,
        redactor=redactor,
    )
    print("\n".join(importer.summary(report, args.output)), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader stopped early (`tapeproxy env | head -1`): its choice, not an error of ours;
        # stdout goes nowhere now, so that the flush at exit does not fail the same way
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "ca":
            from ..runtime.ca import ensure_ca

            print(ensure_ca(args.confdir))
            return 0
        if args.command == "web":
            return _web(args)
        if args.command == "lint":
            from . import lint

            lines, bad = lint.run(args.paths)
            print("\n".join(lines))
            return 1 if bad else 0
        if args.command == "env":
            from ..runtime.ca import shell_lines

            url = instances.proxy_url(args.proxy, args.confdir, args.ready_file)
            print("\n".join(shell_lines(url, args.confdir, args.shell)))
            return 0
        if args.command == "ctl":
            return _ctl(args)
        if args.command == "token":
            from . import token_cli

            print(
                token_cli.mint(
                    args.api,
                    args.scopes,
                    args.roles,
                    args.user,
                    args.client_id or token_cli.DEFAULT_CLIENT,
                    args.tenant or token_cli.DEFAULT_TENANT,
                    args.lifetime,
                )
            )
            return 0
        if args.command == "permissions":
            from . import permissions_cli

            print(permissions_cli.run(args.paths, args.json))
            return 0
        if args.command in ("start", "stop", "status", "logs"):
            from . import daemon

            if args.command == "start":
                return daemon.start(args, build_parser())
            return {"stop": daemon.stop, "status": daemon.status, "logs": daemon.logs}[args.command](args)
        if args.command == "import":
            return _import(args)
        if args.command == "demo":
            return _run("demo", args, cassette_files([bundled("cassettes")]))
        if args.command == "record":
            existing = [args.cassette] if Path(args.cassette).is_file() else []
            return _run("record", args, existing)
        return _run("replay", args, cassette_files(args.cassettes))
    except InputError as e:
        print(f"tapeproxy: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
