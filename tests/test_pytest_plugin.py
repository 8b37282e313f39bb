"""The pytest plugin, used the way its users will: a suite in a temporary directory that knows
only the `tapeproxy` fixture and marker, run by pytest in a subprocess."""

import itertools
import textwrap

from helpers import interaction, write_cassette

URL = "https://graph.microsoft.com/v1.0/me"

SUITE = '''
import os
import subprocess

import pytest
import requests

URL = "https://graph.microsoft.com/v1.0/me"


def get(tp, url, **kw):
    s = requests.Session()
    s.trust_env = False
    return s.get(url, proxies={"https": tp.url}, verify=tp.ca_path, timeout=10, **kw)


@pytest.mark.tapeproxy  # cassettes/test_suite/test_default_cassette.yaml
def test_default_cassette(tapeproxy):
    assert get(tapeproxy, URL).json() == {"who": "default"}
    tapeproxy.assert_called("GET", "/v1.0/me", times=1)
    with pytest.raises(AssertionError, match="expected POST /v1.0/me at least once, got 0"):
        tapeproxy.assert_called("POST", "/v1.0/me")


def test_use_cassette_and_calls(tapeproxy):
    tapeproxy.use_cassette("explicit.yaml")
    assert [get(tapeproxy, URL).json()["n"] for _ in range(3)] == [1, 2, 2]
    calls = tapeproxy.calls
    assert [(c.method, c.status, c.source) for c in calls] == [("GET", 200, "cassette")] * 3
    assert "explicit.yaml #1" in calls[0].label


def test_sequences_start_again_in_the_next_test(tapeproxy):
    tapeproxy.use_cassette("explicit.yaml")
    assert get(tapeproxy, URL).json()["n"] == 1
    assert len(tapeproxy.calls) == 1  # only this test's calls


@pytest.mark.tapeproxy(cassette="explicit.yaml", scenario="graph-throttle-once")
def test_marker_with_scenario(tapeproxy):
    assert [get(tapeproxy, URL).status_code for _ in range(2)] == [429, 200]


def test_use_scenario(tapeproxy):
    tapeproxy.use_cassette("explicit.yaml")
    tapeproxy.use_scenario("graph-throttle-once")
    assert [get(tapeproxy, URL).status_code for _ in range(2)] == [429, 200]
    assert [c.source for c in tapeproxy.calls] == ["scenario", "cassette"]


def test_env_points_curl_at_the_proxy(tapeproxy):
    tapeproxy.use_cassette("explicit.yaml")
    out = subprocess.run(["curl", "-sS", URL], env={**os.environ, **tapeproxy.env}, capture_output=True, text=True)
    assert '"n": 1' in out.stdout, out.stderr


def test_unmatched_request_fails_at_teardown(tapeproxy):
    tapeproxy.use_cassette("explicit.yaml")
    for _ in range(3):  # as an app that retries would
        get(tapeproxy, URL + "/photo")
'''


def test_a_suite_using_only_the_plugin(pytester):
    (pytester.path / "cassettes" / "test_suite").mkdir(parents=True)
    write_cassette(pytester.path / "cassettes" / "test_suite" / "test_default_cassette.yaml",
                   [interaction("GET", URL, body={"who": "default"})])
    write_cassette(pytester.path / "explicit.yaml",
                   [interaction("GET", URL, body={"n": 1}), interaction("GET", URL, body={"n": 2})])
    pytester.makepyfile(test_suite=textwrap.dedent(SUITE))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, errors=1)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_unmatched_request_fails_at_teardown*",
        "*tapeproxy: 3 request(s) matched nothing:*",
        "*GET https://graph.microsoft.com/v1.0/me/photo: no recorded interaction matches*closest: GET /v1.0/me*"
        "(3 times)",
    ])
    # the teardown's message lists the repeated miss once (pytest may repeat the whole message in its summary)
    after = result.stdout.str().split("tapeproxy: 3 request(s) matched nothing:\n", 1)[1].splitlines()
    listed = list(itertools.takewhile(lambda line: line.startswith("  GET "), after))
    assert len(listed) == 1 and "/v1.0/me/photo: no recorded" in listed[0], after


def test_record_mode_option_is_offered(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--tapeproxy-record-mode*"])


RECORDING_SUITE = '''
import os

import pytest
import requests

UPSTREAM = {"graph.microsoft.com": os.environ["UPSTREAM_URL"]}


@pytest.mark.tapeproxy(cassette="recorded.yaml", upstream=UPSTREAM, upstream_ca=os.environ["UPSTREAM_CA"])
def test_sequence(tapeproxy):
    s = requests.Session()
    s.trust_env = False
    got = [s.get("https://graph.microsoft.com/v1.0/seq", proxies={"https": tapeproxy.url},
                 verify=tapeproxy.ca_path, timeout=10).json()["n"] for _ in range(2)]
    assert got == [1, 2]
'''


def test_record_mode_option_records_then_replays_offline(pytester, api, monkeypatch):
    from tapeproxy.core import cassette
    monkeypatch.setenv("UPSTREAM_URL", f"https://127.0.0.1:{api.port}")
    monkeypatch.setenv("UPSTREAM_CA", str(api.cert))
    pytester.makepyfile(test_rec=textwrap.dedent(RECORDING_SUITE))
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--tapeproxy-record-mode=once")
    first.assert_outcomes(passed=1)
    recorded = cassette.load(pytester.path / "recorded.yaml")
    assert [i.request.uri for i in recorded] == ["https://graph.microsoft.com/v1.0/seq"] * 2
    connections = api.connections
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # record mode none: offline
    again.assert_outcomes(passed=1)
    assert api.connections == connections
