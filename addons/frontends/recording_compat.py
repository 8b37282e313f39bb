"""pytest-recording suites, unchanged, through tapeproxy.

A suite written for pytest-recording (`@pytest.mark.vcr`, `vcr_config`, `--record-mode`,
`--block-network`) runs as it is: each marked test is served by the session's tapeproxy from the
cassettes pytest-recording would use, and the test's Python clients reach it through the proxy
variables set for the test (requests, httpx, urllib read them), with no fixture asked for.

Names and precedence are pytest-recording's (0.15): the cassette `<test dir>/cassettes/<module>/
[<Class>.]<test>.yaml` (`vcr_cassette_dir`, `default_cassette_name`, `@pytest.mark.default_cassette`),
extra cassettes as the marker's arguments (relative to the cassette folder; read, never written),
marker keywords over `vcr_config`, a record mode in them over `--record-mode`, `rewrite` removing
the cassette and recording anew. `vcr_config` keys map to tapeproxy's own knobs (CONFIG_KEYS);
others are said once and left alone.

Active when pytest-recording is not (not installed, or `-p no:recording`), or when the ini says
`tapeproxy_recording_compat = true`: its fixtures then take the place of pytest-recording's.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import threading
import warnings
from copy import deepcopy
from pathlib import Path

import pytest

from .pytest_plugin import TapeproxyHandle, suite_defaults

RECORD_MODES = ("once", "new_episodes", "none", "all", "rewrite")
FORBIDDEN = r"<>?%*:|\"'/\\"  # characters pytest-recording replaces in a cassette name
# vcr_config key -> how it becomes tapeproxy's mitmproxy options
CONFIG_KEYS = frozenset(
    {
        "match_on",
        "filter_headers",
        "filter_query_parameters",
        "filter_post_data_parameters",
        "record_mode",
        "allow_playback_repeats",
        "decode_compressed_response",  # tapeproxy replays a body as it was recorded, encoded or not
        "serializer",
        "allowed_hosts",
        "allow_private_ips",
        "cassette_library_dir",
    }
)
PROXY_THREAD = "tapeproxy"  # runtime/inprocess.py's thread: its own connections are never blocked


class NetworkBlocked(RuntimeError):
    """A connection a --block-network test made (pytest-recording raises a RuntimeError too)."""


def recording_plugin_active(pluginmanager) -> bool:
    """Whether pytest-recording will load: installed, not blocked (-p no:recording), autoloaded."""
    if pluginmanager.has_plugin("recording"):
        return True
    if pluginmanager.is_blocked("recording") or os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return importlib.util.find_spec("pytest_recording") is not None


def add_options(parser) -> None:
    """pytest-recording's options, for suites that pass them (only where it does not add them)."""
    group = parser.getgroup("recording", "pytest-recording suites, served by tapeproxy")
    group.addoption("--record-mode", default=None, choices=RECORD_MODES, help='record mode (default "none")')
    group.addoption("--block-network", action="store_true", default=False, help="refuse connections but tapeproxy's")
    group.addoption("--allowed-hosts", default=None, help="comma-separated regexes of hosts still allowed")
    group.addoption(
        "--allow-private-ips", action="store_true", default=False, help="allow private addresses while blocking"
    )
    group.addoption("--disable-recording", action="store_true", default=False, help="no cassettes: the network")


def configure(config) -> None:
    config.addinivalue_line("markers", "vcr(*extra_cassettes, **vcr_config): serve the test from its cassettes")
    config.addinivalue_line("markers", "default_cassette(name): the test's cassette name")
    config.addinivalue_line("markers", "block_network(allowed_hosts=None): refuse connections but tapeproxy's")
    config.addinivalue_line("markers", "allowed_hosts: regexes of hosts a blocked test may still reach")


@pytest.fixture(scope="session")
def record_mode(request) -> str:
    return request.config.getoption("--record-mode") or "none"


@pytest.fixture(scope="session")
def disable_recording(request) -> bool:
    return bool(request.config.getoption("--disable-recording"))


@pytest.fixture
def vcr_config() -> dict:
    return {}


@pytest.fixture(scope="module")
def vcr_cassette_dir(request) -> str:
    module = Path(str(request.node.fspath))
    return str(module.parent / "cassettes" / module.stem)


@pytest.fixture
def default_cassette_name(request) -> str:
    marker = request.node.get_closest_marker("default_cassette")
    if marker is not None:
        assert marker.args, "You should pass the cassette name as an argument to the `pytest.mark.default_cassette`"
        return str(marker.args[0])
    name = f"{request.cls.__name__}.{request.node.name}" if request.cls else request.node.name
    for ch in FORBIDDEN:
        name = name.replace(ch, "-")
    return name


@pytest.fixture
def vcr_markers(request) -> list:
    return list(request.node.iter_markers(name="vcr"))


@pytest.fixture
def allowed_hosts(request) -> list[str] | None:
    marker = request.node.get_closest_marker("block_network")
    config = request.getfixturevalue("vcr_config")
    hosts = (
        getattr(marker, "kwargs", {}).get("allowed_hosts")
        or request.config.getoption("--allowed-hosts")
        or config.get("allowed_hosts")
    )
    return hosts.split(",") if isinstance(hosts, str) else hosts


def merged(config: dict, markers: list) -> dict:
    """vcr_config, then each marker's keywords, the closest last (pytest-recording's merge_kwargs)."""
    out = deepcopy(config)
    for marker in reversed(markers):
        out.update(marker.kwargs)
    return out


def knobs_of(config: dict) -> dict:
    """tapeproxy's mitmproxy options for a vcr config; keys it has no use for are said once."""
    unknown = sorted(set(config) - CONFIG_KEYS - {"before_record_request", "before_record_response"})
    callbacks = sorted({"before_record_request", "before_record_response"} & set(config))
    if unknown or callbacks:
        warnings.warn(
            f"tapeproxy: vcr_config keys not applied: {', '.join(unknown + callbacks)} (tapeproxy redacts "
            "secrets itself; see its README, pytest-recording suites)",
            stacklevel=1,
        )
    options: dict = {}
    if "match_on" in config:
        options["tapeproxy_match_on"] = list(config["match_on"])
    names = lambda key: [f[0] if isinstance(f, (tuple, list)) else f for f in config.get(key, [])]  # noqa: E731
    if "filter_headers" in config:
        options["tapeproxy_redact_headers"] = names("filter_headers")
    if "filter_query_parameters" in config:
        options["tapeproxy_redact_query"] = names("filter_query_parameters")
    if "filter_post_data_parameters" in config:
        options["tapeproxy_redact_json"] = names("filter_post_data_parameters")
    # vcrpy plays each recording once unless told; tapeproxy's knob is the same choice
    options["tapeproxy_repeat_last"] = bool(config.get("allow_playback_repeats", False))
    return options


def _suffixed(name: str, config: dict) -> str:
    suffix = f".{config['serializer']}" if "serializer" in config else ".yaml"
    return name if name.endswith(suffix) else name + suffix


class _Played:
    """What a pytest-recording test's `vcr` fixture gives: the cassette's play count, from the journal."""

    def __init__(self, handle: TapeproxyHandle, path: str) -> None:
        self._handle = handle
        self.path = path

    @property
    def play_count(self) -> int:
        return sum(1 for c in self._handle.calls if c.source == "cassette")

    @property
    def requests(self) -> list:
        return self._handle.calls


@pytest.fixture(autouse=True)
def vcr(request, vcr_markers, vcr_cassette_dir, record_mode, disable_recording, monkeypatch):
    if disable_recording or not vcr_markers:
        yield None
        return
    server = request.getfixturevalue("tapeproxy_server")
    config = merged(request.getfixturevalue("vcr_config"), vcr_markers)
    mode = config.get("record_mode", record_mode)
    folder = Path(config.get("cassette_library_dir") or vcr_cassette_dir)
    path = folder / _suffixed(request.getfixturevalue("default_cassette_name"), config)
    if mode == "rewrite":
        path.unlink(missing_ok=True)
        mode = "new_episodes"
    extras = [folder / a if not os.path.isabs(a) else Path(a) for m in vcr_markers for a in m.args]
    handle = TapeproxyHandle(server, Path(str(request.node.fspath)).parent, suite_defaults(request.config))
    options = knobs_of(config)
    existing = [str(p) for p in dict.fromkeys([path, *extras]) if p.is_file()]
    if mode != "none":
        path.parent.mkdir(parents=True, exist_ok=True)
    options.update(
        tapeproxy_cassettes=existing,
        tapeproxy_record_mode=mode,
        tapeproxy_record_to=str(path) if mode != "none" else "",
        tapeproxy_upstreams=[],
    )
    if request.config.getoption("--block-network") or request.node.get_closest_marker("block_network"):
        if mode == "none":  # recording reaches the network, as pytest-recording lets it
            options["tapeproxy_block_unknown_hosts"] = True
            options["tapeproxy_allowed_hosts"] = request.getfixturevalue("allowed_hosts") or []
    handle.begin(**options)
    if not existing and mode == "none":
        handle.expect_cassette(str(path), "--record-mode=once")
    for name, value in server.env.items():  # the test's clients go through tapeproxy, asked or not
        monkeypatch.setenv(name, value)
    yield _Played(handle, str(path))
    handle.finish(request)


@pytest.fixture(autouse=True)
def block_network(request, record_mode, vcr_markers):
    """--block-network or the marker: a connection to anything but tapeproxy and the allowed hosts
    raises, unless a vcr test records (then the network is what it records from)."""
    marker = request.node.get_closest_marker("block_network")
    if vcr_markers and request.config.getoption("--record-mode") is None:
        record_mode = merged(request.getfixturevalue("vcr_config"), vcr_markers).get("record_mode", "none")
    if not (marker or request.config.getoption("--block-network")) or (vcr_markers and record_mode != "none"):
        yield
        return
    allowed = [re.compile(h) for h in request.getfixturevalue("allowed_hosts") or []]
    uses_proxy = vcr_markers or "tapeproxy" in request.fixturenames
    proxy = request.getfixturevalue("tapeproxy_server") if uses_proxy else None
    own = set(proxy.addrs) if proxy else set()
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def permitted(sock, address) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or threading.current_thread().name == PROXY_THREAD:
            return True
        host, port = address[0], address[1]
        return (host, port) in own or any(p.match(str(host)) for p in allowed)

    def connect(sock, address):
        if not permitted(sock, address):
            raise NetworkBlocked(f"Network is disabled (--block-network): {address[0]}:{address[1]}")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if not permitted(sock, address):
            raise NetworkBlocked(f"Network is disabled (--block-network): {address[0]}:{address[1]}")
        return real_connect_ex(sock, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex  # type: ignore[method-assign]
