"""The pytest plugin (registered by entry point): one in-process tapeproxy per session, reset
between tests, so hundreds of tests pay its start-up once.

    def test_reads_a_task(tapeproxy):
        tapeproxy.use_cassette("cassettes/box.yaml")  # relative to this test file
        requests.get(..., proxies={"https": tapeproxy.url}, verify=tapeproxy.ca_path)
        tapeproxy.assert_called("GET", "/2.0/tasks/11446498", times=1)

    @pytest.mark.tapeproxy(scenario="box-throttle-once", miss_status=500)  # cassette defaults per test
    def test_retries(tapeproxy): ...

The marker, `use_cassette` and `configure` take the knobs `tapeproxy replay` has (KNOBS); the
`tapeproxy_*` ini options set them for a whole suite. A request nothing matched fails the test at
teardown, with the near-miss explanation.
"""

from __future__ import annotations

import fnmatch
import logging
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# mitmproxy is imported when a test first asks for the proxy, not whenever pytest starts.

RECORD_MODES = ("none", "once", "new_episodes", "all")

# What a test may set, as tapeproxy replay's options: knob -> (mitmproxy option, ini type, help).
KNOBS = {
    "match_on": ("tapeproxy_match_on", "args", "vcrpy matchers requests must agree on (replay --match-on)"),
    "match_headers": ("tapeproxy_match_headers", "args", "headers that must match when recorded (--match-header)"),
    "miss_status": ("tapeproxy_miss_status", "string", "status of a miss (--miss-status; default 404)"),
    "intercept_hosts": ("tapeproxy_hosts", "args", "hosts to intercept too (--intercept-host)"),
    "repeat_last": ("tapeproxy_repeat_last", "bool", "repeat the last recording of a sequence (default true)"),
    "simulate": ("tapeproxy_simulate", "bool", "answer from the simulated Graph and Box world first (--simulate)"),
    "world": ("tapeproxy_world", "string", "world file the simulation starts from (--world)"),
    "spec": ("tapeproxy_spec", "bool", "answer what the cassette lacks from Box's and Graph's specs (replay --spec)"),
    "validate": ("tapeproxy_validate", "bool", "flag requests the real API would refuse (replay --validate)"),
    "block_unknown_hosts": (
        "tapeproxy_block_unknown_hosts",
        "bool",
        "refuse hosts tapeproxy does not answer, instead of tunnelling them (--block-unknown-hosts)",
    ),
    "allowed_hosts": ("tapeproxy_allowed_hosts", "args", "hosts let through when blocking (--allow-host)"),
    "body_files": (
        "tapeproxy_body_files",
        "string",
        "keep recorded bodies over this size beside the cassette (--body-files)",
    ),
}
# Our dependencies' deprecation warnings are not the user's to read (mitmproxy's pyOpenSSL calls, and
# those of ldap3, passlib and pyparsing, which mitmproxy imports); warnings of the user's code stay.
QUIET_MODULES = ("mitmproxy", "mitmproxy_rs", "ldap3", "passlib", "pyparsing")


def pytest_addoption(parser, pluginmanager):
    from . import recording_compat

    if not recording_compat.recording_plugin_active(pluginmanager):  # else its options are pytest-recording's
        recording_compat.add_options(parser)
    parser.addini(
        "tapeproxy_recording_compat",
        "tapeproxy: serve @pytest.mark.vcr tests even where pytest-recording is installed (it is, where it is not)",
        type="bool",
        default=False,
    )
    group = parser.getgroup("tapeproxy")
    group.addoption(
        "--tapeproxy-record-mode",
        choices=RECORD_MODES,
        default=None,
        help="record mode for cassettes of @pytest.mark.tapeproxy tests (default: none, offline)",
    )
    for knob, (_, kind, help_) in KNOBS.items():
        parser.addini(f"tapeproxy_{knob}", f"tapeproxy: {help_}", type=kind, default=None)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "tapeproxy(cassette=None, scenario=None, record_mode=None, upstream=None, "
        "upstream_ca=None, **knobs): serve this test from a cassette (default: "
        "cassettes/MODULE/TEST.yaml beside the test file), apply scenarios; knobs: " + ", ".join(KNOBS),
    )
    for module in QUIET_MODULES:
        config.addinivalue_line("filterwarnings", f"ignore::DeprecationWarning:{module}(\\..*)?$")
    from . import recording_compat

    if config.getini("tapeproxy_recording_compat") or not recording_compat.recording_plugin_active(
        config.pluginmanager
    ):
        # registered after pytest-recording (if it is there): these fixtures take the place of its own
        config.pluginmanager.register(recording_compat, "tapeproxy-recording-compat")
        recording_compat.configure(config)


def default_cassette(request) -> Path:
    """As pytest-recording names them: cassettes/<module>/<test name>.yaml next to the test file."""
    module = Path(str(request.node.fspath))
    name = request.node.name.replace("/", "-").replace(":", "-")
    return module.parent / "cassettes" / module.stem / f"{name}.yaml"


def _options(knobs: dict) -> dict:
    """mitmproxy options for knobs; an unknown knob is a TypeError that names the known ones."""
    unknown = set(knobs) - set(KNOBS)
    if unknown:
        raise TypeError(f"tapeproxy: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(KNOBS)}")
    out = {}
    for knob, value in knobs.items():
        if knob in ("match_on", "match_headers", "intercept_hosts", "allowed_hosts") and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif knob == "miss_status":
            value = int(value)
        elif knob == "world":
            value = str(value)
        out[KNOBS[knob][0]] = value
    return out


def suite_defaults(config) -> dict:
    """The knobs the ini file sets, as mitmproxy options (a relative world file: from the ini's folder)."""
    knobs = {k: v for k in KNOBS if (v := config.getini(f"tapeproxy_{k}")) not in (None, [], "")}
    if "world" in knobs and config.inipath:
        knobs["world"] = config.inipath.parent / knobs["world"]
    return _options(knobs)


class TapeproxyHandle:
    def __init__(self, server, base: Path | None = None, defaults: dict | None = None):
        self._server = server
        self._tapeproxy = server.master.addons.get("tapeproxy")
        self._base = base or Path.cwd()  # relative cassette paths: the test file's folder
        self._defaults = defaults or {}
        self._mark = 0
        self._missing: str | None = None  # the default cassette, when it does not exist
        self._record_with = "--tapeproxy-record-mode=once"

    # -- what a test uses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._server.url

    @property
    def ca_path(self) -> str:
        return self._server.ca_path

    @property
    def env(self) -> dict[str, str]:
        """HTTPS_PROXY, HTTP_PROXY, REQUESTS_CA_BUNDLE, SSL_CERT_FILE, CURL_CA_BUNDLE, NODE_EXTRA_CA_CERTS."""
        return dict(self._server.env)

    def use_cassette(
        self, path, record_mode: str = "none", upstream: dict | None = None, upstream_ca: str | None = None, **knobs
    ) -> None:
        """Serve from this cassette (relative to the test file); with a record mode other than none,
        record into it too. knobs: as the marker's (KNOBS).

        upstream maps a host to the server recording really talks to (staging, a local stand-in),
        e.g. {"graph.microsoft.com": "https://127.0.0.1:9443"}; upstream_ca trusts its CA.
        """
        self._use(self._resolve(path), record_mode, upstream, upstream_ca, knobs, must_exist=True)

    def configure(self, **knobs) -> None:
        """Set knobs (KNOBS: match_on, miss_status, intercept_hosts, simulate, ...) for this test."""
        self._set(**self._knob_options(knobs))

    def use_scenario(self, name_or_path) -> None:
        current = self._server.call(lambda: list(self._server.master.options.tapeproxy_scenarios))
        self._set(tapeproxy_scenarios=[*current, self._scenario_ref(name_or_path)])

    @property
    def calls(self) -> list:
        """Requests this test made through the proxy, in order."""
        return self._tapeproxy.journal.since(self._mark)

    def assert_called(self, method: str, path: str, times: int | None = None) -> list:
        """That METHOD PATH (a glob, e.g. /2.0/tasks/*) was called, `times` times if given."""
        found = [
            c for c in self.calls if c.method == method.upper() and fnmatch.fnmatchcase(urlsplit(c.url).path, path)
        ]
        if (times is None and not found) or (times is not None and len(found) != times):
            seen = "\n".join(f"  {c.method} {c.url} -> {c.status} ({c.label})" for c in self.calls) or "  nothing"
            want = f"{times} time(s)" if times is not None else "at least once"
            raise AssertionError(f"expected {method.upper()} {path} {want}, got {len(found)}; calls:\n{seen}")
        return found

    # -- between tests -----------------------------------------------------------------------------
    def _resolve(self, path) -> str:
        path = Path(path).expanduser()
        return str(path if path.is_absolute() else self._base / path)

    def _knob_options(self, knobs: dict) -> dict:
        if "world" in knobs:
            knobs = {**knobs, "world": self._resolve(knobs["world"])}
        return _options(knobs)

    def _scenario_ref(self, name_or_path) -> str:
        """A built-in name as given; a path (it has a folder or a .yaml suffix) relative to the test file."""
        text = str(name_or_path)
        return self._resolve(text) if ("/" in text or text.endswith((".yaml", ".yml"))) else text

    def _use(self, path: str, record_mode: str, upstream, upstream_ca, knobs: dict, must_exist: bool) -> None:
        self._set(**self._cassette_options(path, record_mode, upstream, upstream_ca, knobs, must_exist))

    def _cassette_options(
        self, path: str, record_mode: str, upstream, upstream_ca, knobs: dict, must_exist: bool
    ) -> dict:
        if record_mode not in RECORD_MODES:
            raise ValueError(f"record_mode must be one of {', '.join(RECORD_MODES)}")
        options = self._knob_options(knobs)
        exists = Path(path).is_file()
        if not exists and record_mode == "none":
            if must_exist:
                raise FileNotFoundError(
                    f"tapeproxy: no such cassette: {path} (record it with --tapeproxy-record-mode=once)"
                )
            self._missing = path
        options.update(
            tapeproxy_cassettes=[path] if exists else [],
            tapeproxy_record_mode=record_mode,
            tapeproxy_record_to=path if record_mode != "none" else "",
            tapeproxy_upstreams=[f"{host}={url}" for host, url in (upstream or {}).items()],
        )
        if upstream_ca:
            options["ssl_verify_upstream_trusted_ca"] = str(upstream_ca)
        return options

    def _set(self, **options) -> None:
        self._server.call(lambda: self._server.master.options.update(**options))

    def _begin(self, marker, default: Path, record_mode_option: str | None) -> None:
        """The suite's defaults and this test's marker, set in one options update (each update
        reconfigures every addon)."""
        self._missing = None
        if marker is None:
            self._reset()
            return
        kw = dict(marker.kwargs)
        given = kw.pop("cassette", None)
        scenario = kw.pop("scenario", None) or []
        marker_mode = kw.pop("record_mode", None)
        record_mode = record_mode_option or marker_mode or "none"
        upstream, upstream_ca = kw.pop("upstream", None), kw.pop("upstream_ca", None)
        options = self._cassette_options(
            self._resolve(given) if given else str(default),
            record_mode,
            upstream,
            upstream_ca,
            kw,
            must_exist=bool(given),
        )
        scenarios = [scenario] if isinstance(scenario, str) else list(scenario)
        if scenarios:
            options["tapeproxy_scenarios"] = [self._scenario_ref(s) for s in scenarios]
        self._reset(**options)

    def begin(self, **options) -> None:
        """A test starts: every option back to the suite's defaults, then these (the compatibility
        layer for pytest-recording suites sets its cassettes this way)."""
        self._missing, self._record_with = None, "--tapeproxy-record-mode=once"
        self._reset(**options)

    def knob_options(self, knobs: dict) -> dict:
        """mitmproxy options for knobs (KNOBS), relative paths from the test file's folder."""
        return self._knob_options(knobs)

    def expect_cassette(self, path: str, record_with: str = "--tapeproxy-record-mode=once") -> None:
        """A cassette the test asked for that does not exist: said, with how to record it, when the test misses."""
        self._missing = path
        self._record_with = record_with

    def finish(self, request) -> None:
        """A test ends: what was recorded is saved, and a request nothing matched fails it."""
        missing = self._missing
        misses, unsaved = self._end()
        if unsaved:
            pytest.fail(f"tapeproxy: could not save the recorded cassette: {unsaved}", pytrace=False)
        if misses:
            # An app's retries ask again: each distinct miss is listed once, with how often it came.
            seen = Counter(f"{c.method} {c.url}: {c.label.removeprefix('MISS: ')}" for c in misses)
            lines = "\n".join(f"  {text}" + (f" ({n} times)" if n > 1 else "") for text, n in seen.items())
            why = f"no such cassette: {missing} (record it with {self._record_with}); " if missing else ""
            text = f"tapeproxy: {why}{len(misses)} request(s) matched nothing:\n{lines}"
            failed = getattr(request.node, CALL_REPORT, None)
            if failed is not None and failed.failed:  # the miss is why the test failed: said there, counted once
                failed.sections.append(("tapeproxy", text))
            else:
                pytest.fail(text, pytrace=False)

    def _reset(self, **options) -> None:
        """Every option back to the suite's defaults (then `options`), sequences and world from the start."""

        def reset():
            master = self._server.master
            # every knob back to the suite's default (the ini file's, else tapeproxy's own)
            knobs = {option: master.options.default(option) for option, _, _ in KNOBS.values()}
            cleared: dict[str, object] = {
                "tapeproxy_cassettes": [],
                "tapeproxy_scenarios": [],
                "tapeproxy_record_mode": "none",
                "tapeproxy_record_to": "",
                "tapeproxy_upstreams": [],
                "ssl_verify_upstream_trusted_ca": None,
            }
            wanted = {**cleared, **knobs, **self._defaults, **options}
            # Each update deep-copies every option and reconfigures every addon: set only what this
            # test changes. Cassettes and scenarios always: a file rewritten since the last test is
            # read anew, and scenarios the control API added in the last test are dropped.
            changed = {k: v for k, v in wanted.items() if getattr(master.options, k) != v}
            always = {k: wanted[k] for k in ("tapeproxy_cassettes", "tapeproxy_scenarios")}
            master.options.update(**{**changed, **always})
            self._tapeproxy.reset()  # each test starts from the world file, its sequences from the first
            return self._tapeproxy.journal.total

        self._mark = self._server.call(reset)

    def _end(self) -> tuple[list, str]:
        """Flush what was recorded; this test's misses, and why its recording could not be saved ("" if it was)."""
        recorder = self._tapeproxy.recorder
        unsaved = "" if self._server.call(recorder.flush) else recorder.write_error or "see the log"
        misses = [c for c in self.calls if c.source == "miss"]
        return misses, unsaved  # the next test's _begin resets everything


@pytest.fixture(scope="session")
def tapeproxy_server(tmp_path_factory):
    """The session's proxy; use the `tapeproxy` fixture in tests."""
    from ..runtime.lean_import import lean_addons_package

    lean_addons_package()  # before mitmproxy.master: only the addons tapeproxy runs are imported
    from ..runtime.inprocess import BackgroundProxy

    # The teardown lists each miss once; the miss addon's log line would say it again, per request,
    # in every failing test's "Captured log".
    logging.getLogger("tapeproxy.miss").setLevel(logging.ERROR)
    confdir = str(tmp_path_factory.mktemp("tapeproxy-confdir"))
    server = BackgroundProxy({"confdir": confdir}).start()
    yield server
    server.stop()


@pytest.fixture
def tapeproxy(tapeproxy_server, request):
    handle = TapeproxyHandle(
        tapeproxy_server,
        Path(str(request.node.fspath)).parent,
        suite_defaults(request.config),
    )
    handle._begin(
        request.node.get_closest_marker("tapeproxy"),
        default_cassette(request),
        request.config.getoption("--tapeproxy-record-mode"),
    )
    yield handle
    handle.finish(request)


CALL_REPORT = "_tapeproxy_call_report"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each test's call report on it, for the tapeproxy fixture's teardown."""
    report = yield
    if report.when == "call":
        setattr(item, CALL_REPORT, report)
    return report
