"""The pytest plugin, used the way its users will: a suite in a temporary directory that knows
only the `tapeproxy` fixture and marker, run by pytest in a subprocess."""

import itertools
import textwrap

from helpers import interaction, write_cassette

URL = "https://graph.microsoft.com/v1.0/me"

SUITE = """
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
"""


def test_a_suite_using_only_the_plugin(pytester):
    (pytester.path / "cassettes" / "test_suite").mkdir(parents=True)
    write_cassette(
        pytester.path / "cassettes" / "test_suite" / "test_default_cassette.yaml",
        [interaction("GET", URL, body={"who": "default"})],
    )
    write_cassette(
        pytester.path / "explicit.yaml",
        [interaction("GET", URL, body={"n": 1}), interaction("GET", URL, body={"n": 2})],
    )
    pytester.makepyfile(test_suite=textwrap.dedent(SUITE))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched_request_fails_at_teardown*",
            "*tapeproxy: 3 request(s) matched nothing:*",
            "*GET https://graph.microsoft.com/v1.0/me/photo: no recorded interaction matches*closest: GET /v1.0/me*"
            "(3 times)",
        ]
    )
    # the teardown's message lists the repeated miss once (pytest may repeat the whole message in its summary)
    after = result.stdout.str().split("tapeproxy: 3 request(s) matched nothing:\n", 1)[1].splitlines()
    listed = list(itertools.takewhile(lambda line: line.startswith("  GET "), after))
    assert len(listed) == 1 and "/v1.0/me/photo: no recorded" in listed[0], after


def test_record_mode_option_is_offered(pytester):
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*--tapeproxy-record-mode*"])


RECORDING_SUITE = """
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


@pytest.mark.tapeproxy(
    cassette="binary.yaml", upstream=UPSTREAM, upstream_ca=os.environ["UPSTREAM_CA"], body_files="100"
)
def test_binary(tapeproxy):
    s = requests.Session()
    s.trust_env = False
    r = s.get("https://graph.microsoft.com/v1.0/binary", proxies={"https": tapeproxy.url}, verify=tapeproxy.ca_path)
    assert r.content == bytes(range(256))
"""


def test_record_mode_option_records_then_replays_offline(pytester, api, monkeypatch):
    from tapeproxy.core import cassette

    monkeypatch.setenv("UPSTREAM_URL", f"https://127.0.0.1:{api.port}")
    monkeypatch.setenv("UPSTREAM_CA", str(api.cert))
    pytester.makepyfile(test_rec=textwrap.dedent(RECORDING_SUITE))
    first = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--tapeproxy-record-mode=once")
    first.assert_outcomes(passed=2)
    recorded = cassette.load(pytester.path / "recorded.yaml")
    assert [i.request.uri for i in recorded] == ["https://graph.microsoft.com/v1.0/seq"] * 2
    (binary,) = cassette.load(pytester.path / "binary.yaml")  # body_files="100": the 256 bytes beside it
    assert binary.response.body_file and binary.response.body_file.read() == bytes(range(256))
    assert binary.response.body_file.path.parent == pytester.path / "binary.yaml.bodies"
    connections = api.connections
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider")  # record mode none: offline
    again.assert_outcomes(passed=2)
    assert api.connections == connections


KNOBS_SUITE = """
import warnings

import pytest
import requests

ME = "https://graph.microsoft.com/v1.0/me"
TASK = "https://api.box.com/2.0/tasks/11446498"


def session(tp):
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": tp.url}, tp.ca_path
    return s


def test_use_cassette_is_relative_to_the_test_file(tapeproxy):
    tapeproxy.use_cassette("data/me.yaml")
    assert session(tapeproxy).get(ME).json() == {"who": "me"}


def test_ini_defaults_apply_to_every_test(tapeproxy):
    tapeproxy.use_cassette("data/me.yaml")
    s = session(tapeproxy)
    assert s.get(ME + "/photo").status_code == 500  # tapeproxy_miss_status = 500
    # tapeproxy_intercept_hosts: answered here (a miss), not tunnelled to the network
    assert s.get("https://files.example.org/a.csv").headers["X-Tapeproxy-Miss"] == "1"


@pytest.mark.tapeproxy(cassette="data/me.yaml", miss_status=418, match_on="method,host,path")
def test_marker_knobs(tapeproxy):
    s = session(tapeproxy)
    assert s.get(ME + "?$select=id").json() == {"who": "me"}  # the query is not matched on
    assert s.get(ME + "/photo").status_code == 418


def test_configure_sets_knobs_for_one_test(tapeproxy):
    tapeproxy.use_cassette("data/me.yaml", miss_status=409)
    assert session(tapeproxy).get(ME + "/photo").status_code == 409
    tapeproxy.configure(miss_status=410)
    assert session(tapeproxy).get(ME + "/photo").status_code == 410


@pytest.mark.tapeproxy(simulate=True)
def test_simulation_changes_a_task(tapeproxy):
    s = session(tapeproxy)
    s.headers["Authorization"] = "Bearer t"
    assert s.put(TASK, json={"message": "Changed"}).json()["message"] == "Changed"


@pytest.mark.tapeproxy(simulate=True)
def test_each_test_starts_from_the_world_file(tapeproxy):
    s = session(tapeproxy)
    s.headers["Authorization"] = "Bearer t"
    assert s.get(TASK).json()["message"] == "Legal review"


@pytest.mark.tapeproxy(cassette="data/me.yaml", spec=True)
def test_spec_answers_what_the_cassette_lacks(tapeproxy):
    s = session(tapeproxy)
    assert s.get(ME).json() == {"who": "me"}  # the cassette first
    r = s.get("https://graph.microsoft.com/v1.0/users/u1", headers={"Authorization": "Bearer t"})
    assert r.status_code == 200 and r.headers["X-Tapeproxy-Source"] == "spec" and r.json()["id"] == "u1"


def test_a_missing_cassette_is_named(tapeproxy):
    tapeproxy.use_cassette("data/nope.yaml")


@pytest.mark.tapeproxy
def test_a_missing_default_cassette_is_named_in_the_misses(tapeproxy):
    session(tapeproxy).get(ME)


@pytest.mark.tapeproxy(miss_stauts=500)
def test_an_unknown_knob_is_refused(tapeproxy):
    pass


def test_the_users_own_warnings_still_show(tapeproxy):
    tapeproxy.use_cassette("data/me.yaml")
    session(tapeproxy).get(ME)
    warnings.warn("the user's own deprecation", DeprecationWarning)
"""


def test_the_plugin_has_the_clis_knobs_and_resolves_paths_from_the_test_file(pytester):
    pytester.makeini("[pytest]\ntapeproxy_miss_status = 500\ntapeproxy_intercept_hosts = files.example.org\n")
    sub = pytester.mkdir("suite")
    (sub / "data").mkdir()
    write_cassette(sub / "data" / "me.yaml", [interaction("GET", URL, body={"who": "me"})])
    (sub / "test_knobs.py").write_text(KNOBS_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "suite")  # from the rootdir, not suite/
    # a miss fails its test at teardown: the four tests that miss on purpose, and the unknown knob, error
    result.assert_outcomes(passed=9, failed=1, errors=5, warnings=1)
    out = result.stdout.str()
    assert "GET https://files.example.org/a.csv: no recorded interaction matches" in out
    assert f"FileNotFoundError: tapeproxy: no such cassette: {sub / 'data' / 'nope.yaml'}" in out
    assert f"tapeproxy: no such cassette: {sub / 'cassettes' / 'test_knobs'}" in out  # the default one
    assert "unknown setting(s) miss_stauts; known: match_on, match_headers, miss_status" in out
    assert "the user's own deprecation" in out
    assert "pyOpenSSL" not in out and "tagMap" not in out and "crypt" not in out  # our dependencies' own


NOISY_SUITE = """
import requests


def test_fails_with_misses_and_a_connection_left_open(tapeproxy):
    s = requests.Session()
    s.trust_env = False
    for _ in range(3):
        s.get("https://graph.microsoft.com/v1.0/me", proxies={"https": tapeproxy.url}, verify=tapeproxy.ca_path)
    assert False, "the test's own failure"
"""


def test_a_failing_test_shows_its_failure_and_its_misses_once_and_no_proxy_noise(pytester):
    """A test failed by its misses counts once: failed, its report naming the misses (issue 27, 20:
    it was "1 failed, 1 error")."""
    pytester.makepyfile(test_noisy=NOISY_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*tapeproxy: 3 request(s) matched nothing:*"])
    out = result.stdout.str()
    assert "the test's own failure" in out and "(3 times)" in out
    assert "Captured log" not in out and "Traceback" not in out and "CancelledError" not in out, out


SAME_CASSETTE_SUITE = """
import sys
from pathlib import Path

import pytest
import requests

URL = "https://graph.microsoft.com/v1.0/me"
CASSETTE = '''interactions:
- request: {body: null, headers: {}, method: GET, uri: "https://graph.microsoft.com/v1.0/me"}
  response:
    status: {code: 200, message: OK}
    headers: {Content-Type: [application/json]}
    body: {string: '{"who": "WHO"}'}
version: 1
'''
Path(__file__).with_name("same.yaml").write_text(CASSETTE.replace("WHO", "first"))


def get(tp):
    s = requests.Session()
    s.trust_env = False
    return s.get(URL, proxies={"https": tp.url}, verify=tp.ca_path, timeout=10).json()["who"]


@pytest.mark.tapeproxy(cassette="same.yaml")
def test_first(tapeproxy):
    assert get(tapeproxy) == "first"
    Path(__file__).with_name("same.yaml").write_text(CASSETTE.replace("WHO", "second"))


@pytest.mark.tapeproxy(cassette="same.yaml")
def test_the_same_marker_reads_the_rewritten_cassette(tapeproxy):
    assert get(tapeproxy) == "second"


@pytest.mark.tapeproxy(cassette="same.yaml", repeat_last=False)
def test_a_knob(tapeproxy):
    assert get(tapeproxy) == "second"


@pytest.mark.tapeproxy(cassette="same.yaml")
def test_the_knob_is_back_to_its_default(tapeproxy):
    assert [get(tapeproxy), get(tapeproxy)] == ["second", "second"]  # repeat_last: true


def test_a_scenario_added_through_the_control_api(tapeproxy):
    s = requests.Session()
    s.trust_env = False
    scenario = {"scenario": "graph-throttle-once"}
    added = s.post("http://tapeproxy/scenarios", json=scenario, proxies={"http": tapeproxy.url})
    assert added.status_code == 200, added.text
    tapeproxy.use_cassette("same.yaml")
    assert s.get(URL, proxies={"https": tapeproxy.url}, verify=tapeproxy.ca_path).status_code == 429


@pytest.mark.tapeproxy(cassette="same.yaml")
def test_is_gone_in_the_next_test(tapeproxy):
    assert get(tapeproxy) == "second"


def test_only_the_mitmproxy_addons_tapeproxy_runs_are_imported(tapeproxy):
    assert "mitmproxy.addons.tlsconfig" in sys.modules
    assert "mitmproxy.addons.onboardingapp" not in sys.modules  # mitmdump's defaults: start-up per suite
    assert "passlib" not in sys.modules  # proxy authentication's, unless asked for
"""


def test_each_test_gets_its_own_options_and_its_cassette_as_the_file_is_now(pytester):
    pytester.makepyfile(test_same=SAME_CASSETTE_SUITE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=7)


BLOCKING = """
import pytest
import requests


def get(tp, url):
    s = requests.Session()
    s.trust_env = False
    return s.get(url, proxies={"https": tp.url}, verify=tp.ca_path, timeout=10)


@pytest.mark.tapeproxy(cassette="box.yaml", block_unknown_hosts=True)
def test_unknown_hosts_are_refused(tapeproxy):
    refused = get(tapeproxy, "https://unknown.example/")
    assert refused.status_code == 403 and "unknown.example" in refused.json()["error"]["message"]
    assert get(tapeproxy, "https://api.box.com/2.0/users/me").json() == {"id": "7"}
    assert [c.source for c in tapeproxy.calls] == ["blocked", "cassette"]


@pytest.mark.tapeproxy(cassette="box.yaml")
def test_blocking_is_per_test(tapeproxy):
    tapeproxy.configure(block_unknown_hosts=True, allowed_hosts="*.example")
    assert tapeproxy.calls == []
"""


def test_the_plugin_blocks_unknown_hosts_when_a_test_asks(pytester):
    write_cassette(
        pytester.path / "box.yaml", [interaction("GET", "https://api.box.com/2.0/users/me", body={"id": "7"})]
    )
    pytester.makepyfile(test_blocking=BLOCKING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
