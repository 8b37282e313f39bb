"""The pytest plugin (registered by entry point): one in-process tapeproxy per session, reset
between tests, so hundreds of tests pay its start-up once.

    def test_reads_a_task(tapeproxy):
        tapeproxy.use_cassette("cassettes/box.yaml")
        requests.get(..., proxies={"https": tapeproxy.url}, verify=tapeproxy.ca_path)
        tapeproxy.assert_called("GET", "/2.0/tasks/11446498", times=1)

    @pytest.mark.tapeproxy(scenario="box-throttle-once")  # cassette defaults per test
    def test_retries(tapeproxy): ...

A request nothing matched fails the test at teardown, with the near-miss explanation.
"""

from __future__ import annotations

import fnmatch
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

# mitmproxy is imported when a test first asks for the proxy, not whenever pytest starts.

RECORD_MODES = ("none", "once", "new_episodes", "all")


def pytest_addoption(parser):
    group = parser.getgroup("tapeproxy")
    group.addoption("--tapeproxy-record-mode", choices=RECORD_MODES, default=None,
                    help="record mode for cassettes of @pytest.mark.tapeproxy tests (default: none, offline)")


def pytest_configure(config):
    config.addinivalue_line("markers", "tapeproxy(cassette=None, scenario=None, record_mode=None, upstream=None, "
                                       "upstream_ca=None): "
                                       "serve this test from a cassette (default: cassettes/MODULE/TEST.yaml "
                                       "beside the test file) and apply scenarios")


def default_cassette(request) -> Path:
    """As pytest-recording names them: cassettes/<module>/<test name>.yaml next to the test file."""
    module = Path(str(request.node.fspath))
    name = request.node.name.replace("/", "-").replace(":", "-")
    return module.parent / "cassettes" / module.stem / f"{name}.yaml"


class TapeproxyHandle:
    def __init__(self, server, confdir: str):
        self._server = server
        self._confdir = confdir
        self._mark = 0

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
        from .ca import client_env
        return client_env(self.url, self._confdir)

    def use_cassette(self, path, record_mode: str = "none", upstream: dict | None = None,
                     upstream_ca: str | None = None) -> None:
        """Serve from this cassette; with a record mode other than none, record into it too.

        upstream maps a host to the server recording really talks to (staging, a local stand-in),
        e.g. {"graph.microsoft.com": "https://127.0.0.1:9443"}; upstream_ca trusts its CA.
        """
        if record_mode not in RECORD_MODES:
            raise ValueError(f"record_mode must be one of {', '.join(RECORD_MODES)}")
        path = str(path)
        exists = Path(path).is_file()
        options = dict(tapeproxy_cassettes=[path] if exists else [], tapeproxy_record_mode=record_mode,
                       tapeproxy_record_to=path if record_mode != "none" else "",
                       tapeproxy_upstreams=[f"{host}={url}" for host, url in (upstream or {}).items()])
        if upstream_ca:
            options["ssl_verify_upstream_trusted_ca"] = str(upstream_ca)
        self._set(**options)

    def use_scenario(self, name_or_path) -> None:
        current = self._server.call(lambda: list(self._server.master.options.tapeproxy_scenarios))
        self._set(tapeproxy_scenarios=[*current, str(name_or_path)])

    @property
    def calls(self) -> list:
        """Requests this test made through the proxy, in order."""
        journal = self._server.master.addons.get("tapeproxy").get("tapeproxy_journal")
        return journal.since(self._mark)

    def assert_called(self, method: str, path: str, times: int | None = None) -> list:
        """That METHOD PATH (a glob, e.g. /2.0/tasks/*) was called, `times` times if given."""
        found = [c for c in self.calls
                 if c.method == method.upper() and fnmatch.fnmatchcase(urlsplit(c.url).path, path)]
        if (times is None and not found) or (times is not None and len(found) != times):
            seen = "\n".join(f"  {c.method} {c.url} -> {c.status} ({c.label})" for c in self.calls) or "  nothing"
            want = f"{times} time(s)" if times is not None else "at least once"
            raise AssertionError(f"expected {method.upper()} {path} {want}, got {len(found)}; calls:\n{seen}")
        return found

    # -- between tests -----------------------------------------------------------------------------
    def _set(self, **options) -> None:
        self._server.call(lambda: self._server.master.options.update(**options))

    def _begin(self, cassette: str | None, scenarios: list[str], record_mode: str, upstream=None,
               upstream_ca=None) -> None:
        self._reset()
        if cassette:
            self.use_cassette(cassette, record_mode, upstream, upstream_ca)
        if scenarios:
            self._set(tapeproxy_scenarios=scenarios)

    def _reset(self) -> None:
        def reset():
            master = self._server.master
            master.options.update(tapeproxy_cassettes=[], tapeproxy_scenarios=[], tapeproxy_record_mode="none",
                                  tapeproxy_record_to="", tapeproxy_upstreams=[], ssl_verify_upstream_trusted_ca=None)
            master.addons.get("tapeproxy").get("tapeproxy_replay").index.reset()
            master.addons.get("tapeproxy").get("tapeproxy_scenarios").engine.reset()
            return master.addons.get("tapeproxy").get("tapeproxy_journal").total

        self._mark = self._server.call(reset)

    def _end(self) -> list:
        """Flush what was recorded; return this test's misses."""
        self._server.call(lambda: self._server.master.addons.get("tapeproxy").get("tapeproxy_recorder").flush())
        misses = [c for c in self.calls if c.source == "miss"]
        self._reset()
        return misses


@pytest.fixture(scope="session")
def tapeproxy_server(tmp_path_factory):
    """The session's proxy; use the `tapeproxy` fixture in tests."""
    from .inprocess import BackgroundProxy
    confdir = str(tmp_path_factory.mktemp("tapeproxy-confdir"))
    server = BackgroundProxy({"confdir": confdir}).start()
    server.confdir = confdir
    yield server
    server.stop()


@pytest.fixture
def tapeproxy(tapeproxy_server, request):
    handle = TapeproxyHandle(tapeproxy_server, tapeproxy_server.confdir)
    marker = request.node.get_closest_marker("tapeproxy")
    cassette, scenarios, record_mode, upstream, upstream_ca = None, [], "none", None, None
    if marker is not None:
        kw = marker.kwargs
        cassette = str(kw.get("cassette") or default_cassette(request))
        if cassette and not Path(cassette).is_absolute():
            cassette = str(Path(str(request.node.fspath)).parent / cassette)
        scenario = kw.get("scenario") or []
        scenarios = [scenario] if isinstance(scenario, str) else list(scenario)
        record_mode = request.config.getoption("--tapeproxy-record-mode") or kw.get("record_mode") or "none"
        upstream, upstream_ca = kw.get("upstream"), kw.get("upstream_ca")
    handle._begin(cassette, scenarios, record_mode, upstream, upstream_ca)
    yield handle
    misses = handle._end()
    if misses:
        # An app's retries ask again: each distinct miss is listed once, with how often it came.
        seen = Counter(f"{c.method} {c.url}: {c.label.removeprefix('MISS: ')}" for c in misses)
        lines = "\n".join(f"  {text}" + (f" ({n} times)" if n > 1 else "") for text, n in seen.items())
        pytest.fail(f"tapeproxy: {len(misses)} request(s) matched nothing:\n{lines}", pytrace=False)
