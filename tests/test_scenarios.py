"""Scenarios through a running proxy with real clients: every action and trigger."""

import ssl
import threading
import time

import h2.exceptions
import httpx
import pytest
import requests
from helpers import AUTH, BOX_TASK_URL, GRAPH_TASK_URL, run_cli

G = "https://graph.microsoft.com/v1.0"


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def session(proxy) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy.url}
    s.verify = proxy.ca
    s.headers.update(AUTH)
    return s


def test_respond_with_templates_and_file_bodies(start_cli, tmp_path):
    (tmp_path / "logo.bin").write_bytes(bytes(range(256)))
    path = write(
        tmp_path,
        """
name: scripted
rules:
  - match: {host: graph.microsoft.com, method: PATCH, path: "/v1.0/print/taskDefinitions/{def}/tasks/{task}"}
    respond:
      status: 200
      headers: {ETag: 'W/"{task}"', x-echo: "{headers.x-client}"}
      json: {id: "{task}", parentUrl: "{path}", status: "{body.status}", top: "{query.$top}", at: "{now}", op: "{uuid}"}
  - match: {host: api.box.com, path: "/2.0/files/{file_id}/content"}
    respond: {file: logo.bin, headers: {Content-Type: application/pdf}}
  - match: {host: api.box.com, path: /2.0/ping}
    respond: {status: 202, text: "pong {{literal}}"}
""",
    )
    proxy = start_cli("demo", "--scenario", path)
    s = session(proxy)
    status = {"state": "completed", "description": "done"}
    r = s.patch(f"{G}/print/taskDefinitions/d1/tasks/t9?$top=3", json={"status": status}, headers={"x-client": "abc"})
    body = r.json()
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"t9"' and r.headers["x-echo"] == "abc"
    assert body["id"] == "t9" and body["status"] == status and body["top"] == "3"  # an object stays an object
    assert body["parentUrl"] == "/v1.0/print/taskDefinitions/d1/tasks/t9" and body["at"].endswith("Z")
    assert len(body["op"]) == 36
    r = s.get("https://api.box.com/2.0/files/12345/content")
    assert r.content == bytes(range(256)) and r.headers["Content-Type"] == "application/pdf"
    r = s.get("https://api.box.com/2.0/ping")
    assert r.status_code == 202 and r.text == "pong {literal}"
    # pass: what no rule answers goes on to the cassettes behind
    assert s.get(BOX_TASK_URL).json()["id"] == "11446498"
    proxy.stop()
    assert "scenario scripted rule 1" in proxy.output


def test_a_scripted_answer_carries_the_services_standard_headers_under_its_own(start_cli, tmp_path):
    """A `respond` rule stands in for the service: its answer has the headers the service sends
    with every answer (Graph's request-id, the client's client-request-id echoed, Date; Box's
    box-request-id), and a header the rule gives wins over the standard one."""
    rules = (
        "rules:\n"
        "  - {match: {path: /v1.0/me}, respond: {json: {id: scripted}}}\n"
        "  - {match: {path: /v1.0/organization}, respond: {json: {}, headers: {request-id: mine}}}\n"
        "  - {match: {path: /2.0/users/me}, respond: {json: {id: '1'}}}\n"
    )
    s = session(start_cli("demo", "--scenario", write(tmp_path, rules)))
    r = s.get(f"{G}/me", headers={"client-request-id": "c1e7"})
    assert r.json() == {"id": "scripted"} and r.headers["request-id"] and r.headers["client-request-id"] == "c1e7"
    assert r.headers["Date"] and "x-ms-ags-diagnostic" in r.headers
    assert s.get(f"{G}/organization").headers["request-id"] == "mine"
    assert s.get("https://api.box.com/2.0/users/me").headers["box-request-id"]


@pytest.mark.parametrize(
    "name, status, graph_code, box_code",
    [
        ("bad_request", 400, "invalidRequest", "bad_request"),
        ("forbidden", 403, "accessDenied", "access_denied_insufficient_permissions"),
        ("not_found", 404, "itemNotFound", "not_found"),
        ("conflict", 409, "nameAlreadyExists", "conflict"),
        ("precondition_failed", 412, "resourceModified", "precondition_failed"),
        ("too_large", 413, "RequestEntityTooLarge", "request_entity_too_large"),
        ("throttled", 429, "TooManyRequests", "rate_limit_exceeded"),
        ("server_error", 500, "generalException", "internal_server_error"),
        ("bad_gateway", 502, "BadGateway", "bad_gateway"),
        ("service_unavailable", 503, "serviceNotAvailable", "unavailable"),
        ("gateway_timeout", 504, "GatewayTimeout", "gateway_timeout"),
        ("insufficient_storage", 507, "quotaLimitReached", "insufficient_storage"),
    ],
)
def test_errors_in_each_apis_envelope(start_cli, tmp_path, name, status, graph_code, box_code):
    proxy = start_cli("demo", "--scenario", write(tmp_path, f"rules:\n  - error: {name}\n"))
    s = session(proxy)
    r = s.get(GRAPH_TASK_URL, headers={"client-request-id": "5b9c5a7e-0000-4000-8000-000000000001"})
    assert r.status_code == status
    err = r.json()["error"]
    assert err["code"] == graph_code and err["message"]
    assert err["innerError"]["client-request-id"] == "5b9c5a7e-0000-4000-8000-000000000001"
    assert err["innerError"]["request-id"] == r.headers["request-id"] and err["innerError"]["date"]
    r = s.get(BOX_TASK_URL)
    body = r.json()
    assert r.status_code == status and body["type"] == "error" and body["status"] == status
    assert body["code"] == box_code and body["message"] and body["request_id"] and body["help_url"]
    assert set(body) == {"type", "status", "code", "message", "context_info", "help_url", "request_id"}
    for resp in (r,):
        assert ("Retry-After" in resp.headers) == (status in (429, 503))


def test_unauthorized_as_each_api_sends_it(start_cli, tmp_path):
    proxy = start_cli("demo", "--scenario", write(tmp_path, "rules:\n  - error: token_expired\n"))
    s = session(proxy)
    r = s.get(GRAPH_TASK_URL)
    assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert "expired" in r.json()["error"]["message"] and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = s.get(BOX_TASK_URL)
    assert r.status_code == 401 and r.content == b"" and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


def test_delays_hold_only_their_own_flow(start_cli, tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - match: {path: /v1.0/slow}
    delay: 1.5s
    respond: {json: {slow: true}}
  - match: {path: /v1.0/fast}
    respond: {json: {fast: true}}
""",
    )
    proxy = start_cli("demo", "--scenario", path)
    times = {}

    def get(name):
        start = time.monotonic()
        session(proxy).get(f"{G}/{name}")
        times[name] = time.monotonic() - start

    slow = threading.Thread(target=get, args=("slow",))
    slow.start()
    time.sleep(0.2)
    get("fast")
    slow.join()
    assert times["slow"] >= 1.5 and times["fast"] < 1.0


def test_faults_surface_as_the_clients_own_connection_errors(start_cli, tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - {match: {path: /v1.0/reset}, fault: reset}
  - {match: {path: /v1.0/close}, fault: close}
  - {match: {path: /v1.0/stall}, fault: stall, stall_for: 30s}
  - {match: {host: api.box.com, path: /2.0/tasks/**}, fault: truncate}
""",
    )
    proxy = start_cli("demo", "--scenario", path)
    s = session(proxy)
    for p in ("reset", "close"):
        with pytest.raises(requests.ConnectionError):
            s.get(f"{G}/{p}", timeout=5)
    with pytest.raises(requests.ReadTimeout):
        s.get(f"{G}/stall", timeout=1)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        session(proxy).get(BOX_TASK_URL, timeout=5)  # the cassette's answer, cut short
    tls = ssl.create_default_context(cafile=proxy.ca)
    for http2 in (False, True):  # over HTTP/2: a reset stream, a body shorter than its length
        with httpx.Client(proxy=proxy.url, verify=tls, trust_env=False, http2=http2, headers=AUTH) as h:
            with pytest.raises(httpx.TransportError):
                h.get(f"{G}/reset")
            # httpx lets h2's own error through for a short body
            with pytest.raises((httpx.TransportError, h2.exceptions.ProtocolError)):
                h.get(BOX_TASK_URL)
    proxy.stop()
    assert "MISS" not in proxy.output  # a killed request goes no further


def statuses(proxy, url, n, **kw):
    s = session(proxy)
    return [s.get(url, **kw).status_code for _ in range(n)]


def test_every_after_times_and_sequences(start_cli, tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - {match: {path: /v1.0/every}, every: 3, error: throttled}
  - {match: {path: /v1.0/after}, after: 2, error: server_error}
  - {match: {path: /v1.0/times}, times: 2, error: service_unavailable}
  - match: {path: /v1.0/seq}
    sequence: [{error: service_unavailable}, {error: throttled}, {respond: {json: {ok: 1}}}]
  - match: {path: /v1.0/loop}
    loop: true
    sequence: [{error: bad_gateway}, {respond: {json: {ok: 1}}}]
  - {match: {path: "/v1.0/**"}, respond: {json: {passed: true}}}
""",
    )
    proxy = start_cli("demo", "--scenario", path)
    assert statuses(proxy, f"{G}/every", 6) == [200, 200, 429, 200, 200, 429]
    assert statuses(proxy, f"{G}/after", 4) == [200, 200, 500, 500]
    assert statuses(proxy, f"{G}/times", 4) == [503, 503, 200, 200]
    assert statuses(proxy, f"{G}/seq", 5) == [503, 429, 200, 200, 200]  # the last step repeats
    assert statuses(proxy, f"{G}/loop", 4) == [502, 200, 502, 200]


def test_per_endpoint_counters_and_states(start_cli, tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - {match: {host: graph.microsoft.com, path: /v1.0/login}, set_state: signed_in, respond: {json: {ok: true}}}
  - {match: {host: graph.microsoft.com, path: /v1.0/me}, state: started, error: unauthorized}
  - {match: {host: graph.microsoft.com, path: /v1.0/me}, state: signed_in, respond: {json: {name: Megan}}}
  - {match: {host: api.box.com}, per: endpoint, times: 1, error: throttled}
""",
    )
    proxy = start_cli("demo", "--scenario", path)
    s = session(proxy)
    assert s.get(f"{G}/me").status_code == 401
    assert s.get(f"{G}/login").status_code == 200
    assert s.get(f"{G}/me").json() == {"name": "Megan"}
    # each endpoint's first call only
    assert statuses(proxy, BOX_TASK_URL, 2) == [429, 200]
    assert statuses(proxy, "https://api.box.com/2.0/files/12345/tasks", 2) == [429, 200]


def test_time_window_down_then_recovers(start_cli, tmp_path):
    path = write(tmp_path, "rules:\n  - {window: {until: 2s}, error: service_unavailable, retry_after: 1}\n")
    proxy = start_cli("demo", "--scenario", path)
    assert statuses(proxy, GRAPH_TASK_URL, 1) == [503]
    time.sleep(2.2)
    assert statuses(proxy, GRAPH_TASK_URL, 1) == [200]


def test_rate_limit_token_bucket_with_headers(start_cli, tmp_path):
    proxy = start_cli("demo", "--scenario", "graph-throttling")
    s = session(proxy)
    seen = [s.get(GRAPH_TASK_URL, headers={"Authorization": "Bearer a"}) for _ in range(7)]
    assert [r.status_code for r in seen] == [200] * 5 + [429, 429]
    limited = seen[5]
    assert int(limited.headers["Retry-After"]) >= 1 and limited.headers["RateLimit-Limit"] == "5"
    assert limited.headers["RateLimit-Remaining"] == "0"
    # another caller has a bucket of its own
    assert s.get(GRAPH_TASK_URL, headers={"Authorization": "Bearer b"}).status_code == 200
    time.sleep(1.1)
    assert s.get(GRAPH_TASK_URL, headers={"Authorization": "Bearer a"}).status_code == 200


def test_seeded_probability_gives_the_same_failures_every_run(start_cli, tmp_path):
    path = write(tmp_path, "seed: 11\nrules:\n  - {probability: 0.3, error: server_error}\n")
    runs = []
    for _ in range(2):
        proxy = start_cli("demo", "--scenario", path)
        runs.append(statuses(proxy, GRAPH_TASK_URL, 40))
        proxy.stop()
    assert runs[0] == runs[1]
    assert 4 <= runs[0].count(500) <= 20  # about 30%, not all or nothing


@pytest.mark.parametrize(
    "text, line, expected",
    [
        ("rules:\n  - match: {host: graph.microsoft.com}\n    erorr: throttled\n", 3, "unknown key 'erorr' in rule 1"),
        ("rules:\n  - error: throttle\n", 2, "unknown error 'throttle'"),
        (
            "rules:\n  - match: {path: '/v1.0/x/{id}'}\n    respond: {json: {id: '{task}'}}\n",
            3,
            "unknown placeholder {task}",
        ),
        ("rules:\n  - match: {path: /v1.0/x/{id}}\n", 2, 'needs quotes, e.g. {path: "/2.0/tasks/{task_id}"}'),
        ("rules:\n  - every: three\n    error: throttled\n", 2, "every must be an integer"),
        ("rules:\n  - delay: fast\n", 2, "is not a duration"),
        ("rules:\n  - respond: {file: ../secret.txt}\n", 2, "outside the scenario's folder"),
        ("rules:\n  - {state: broken, error: throttled}\n", 2, "which no rule's set_state reaches"),
        ("name: x\n", 1, "needs a non-empty rules"),
    ],
)
def test_bad_scenarios_stop_the_proxy_with_file_line_and_hint(tmp_path, text, line, expected):
    path = write(tmp_path, text)
    done = run_cli(["demo", "--scenario", path, "--port", "0", "--confdir", str(tmp_path / "conf")])
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{path}:{line}: " in done.stderr and expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_builtin_name_lists_the_library(tmp_path):
    done = run_cli(["demo", "--scenario", "graph-throttle-twice", "--port", "0", "--confdir", str(tmp_path)])
    assert done.returncode == 2 and "graph-throttle-once" in done.stderr


def test_every_builtin_scenario_loads_and_says_what_it_proves():
    from tapeproxy.core import scenario
    from tapeproxy.scenarios import builtin_names, resolve

    required = {
        "graph-throttle-once",
        "box-throttle-once",
        "graph-throttling",
        "graph-service-unavailable",
        "graph-auth-expired",
        "box-rate-limit",
        "box-server-errors",
        "box-auth-expired",
        "flaky-network",
        "slow-network",
        "chaos",
    }
    assert required <= set(builtin_names())
    for name in builtin_names():
        s = scenario.load(resolve(name))
        assert s.name == name and s.description.startswith("Proves")


def test_retries_before_retry_after_are_flagged(start_cli, tmp_path):
    proxy = start_cli(
        "demo", "--scenario", write(tmp_path, "rules:\n  - {times: 2, error: throttled, retry_after: 2}\n")
    )
    s = session(proxy)
    assert s.get(GRAPH_TASK_URL).status_code == 429
    assert s.get(GRAPH_TASK_URL).status_code == 429  # at once: too early
    assert proxy.wait_for("RETRY-AFTER NOT HONOURED")
    time.sleep(2.1)
    assert s.get(GRAPH_TASK_URL).status_code == 200  # waited: fine
    proxy.stop()
    assert proxy.output.count("RETRY-AFTER NOT HONOURED") == 1
    assert "1 retry(ies) came back before their Retry-After" in proxy.output


def test_failure_injection_in_front_of_a_live_upstream(start_cli, api, tmp_path):
    """record mode: a scenario answers first; what it lets through is recorded from the live server."""
    local = f"https://127.0.0.1:{api.port}"
    cassette_path = tmp_path / "live.yaml"
    path = write(tmp_path, "rules:\n  - {match: {path: /v1.0/seq}, times: 1, error: throttled}\n")
    proxy = start_cli(
        "record",
        "--cassette",
        str(cassette_path),
        "--upstream",
        f"graph.microsoft.com={local}",
        "--upstream-ca",
        str(api.cert),
        "--scenario",
        path,
    )
    s = session(proxy)
    first, second = s.get(f"{G}/seq"), s.get(f"{G}/seq")
    assert first.status_code == 429 and second.json() == {"n": 1}  # the 429 never reached the server
    proxy.stop()
    from tapeproxy.core import cassette

    recorded = cassette.load(cassette_path)
    assert [i.response.status for i in recorded] == [200]  # injected failures are not recorded


def test_the_readme_example_scenario_works(start_cli, tmp_path):
    import re

    from helpers import ROOT

    example = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[0]
    proxy = start_cli("demo", "--scenario", write(tmp_path, example))
    s = session(proxy)
    assert [s.put(BOX_TASK_URL, json={"message": "x"}).status_code for _ in range(3)][2] == 429
    url = "https://graph.microsoft.com/v1.0/print/taskDefinitions/d/tasks/t"
    done = {"status": {"state": "completed"}}
    assert [s.patch(url, json=done).status_code for _ in range(2)] == [503, 200]
    assert s.patch(url, json=done).json()["status"] == {"state": "completed"}


def test_priority_pass_query_and_header_matching(start_cli, tmp_path):
    path = write(
        tmp_path,
        """
rules:
  - {match: {host: graph.microsoft.com}, error: server_error}
  - {match: {headers: {X-Test-Bypass: "1"}}, priority: 10, pass: true}
  - {match: {query: {$top: "2"}}, priority: 5, respond: {json: {top: 2}}}
""",
    )
    proxy = start_cli("demo", "--scenario", path)
    s = session(proxy)
    assert s.get(GRAPH_TASK_URL).status_code == 500  # first in order
    assert s.get(f"{G}/print/taskDefinitions?$top=2").json() == {"top": 2}  # higher priority wins
    assert s.get(GRAPH_TASK_URL, headers={"x-test-bypass": "1"}).json()["id"]  # pass: on to the cassette


def test_builtin_auth_expired_per_token(start_cli):
    proxy = start_cli("demo", "--scenario", "graph-auth-expired", "--scenario", "box-auth-expired")
    for url in (GRAPH_TASK_URL, BOX_TASK_URL):
        old = statuses(proxy, url, 5, headers={"Authorization": "Bearer old"})
        assert old == [200, 200, 200, 401, 401]
        assert statuses(proxy, url, 1, headers={"Authorization": "Bearer refreshed"}) == [200]


def test_builtin_failure_scenarios_are_reproducible(start_cli):
    def run(name):
        proxy = start_cli("demo", "--scenario", name)
        s = session(proxy)
        out = []
        for _ in range(40):
            try:
                out.append(s.get(BOX_TASK_URL, timeout=5).status_code)
            except requests.ConnectionError:  # ProxyError is one too: the tunnel closed under it
                out.append("ConnectionError")
            except requests.RequestException as e:
                out.append(type(e).__name__)
        proxy.stop()
        return out

    for name, failures in [
        ("box-server-errors", {500, 502, 503, 504}),
        ("flaky-network", {"ConnectionError", "ChunkedEncodingError"}),
    ]:
        first, second = run(name), run(name)
        assert first == second, name
        seen = set(first) - {200}
        assert seen and seen <= failures, (name, first)


def test_builtin_rate_limit_and_latency(start_cli):
    proxy = start_cli("demo", "--scenario", "box-rate-limit")
    seen = statuses(proxy, BOX_TASK_URL, 20, headers={"Authorization": "Bearer t"})
    assert seen[:10] == [200] * 10 and 429 in seen[10:]  # the bucket refills 10/s meanwhile
    proxy.stop()
    proxy = start_cli("demo", "--scenario", "slow-network")
    start = time.monotonic()
    statuses(proxy, BOX_TASK_URL, 5)
    assert time.monotonic() - start > 5 * 0.05  # every request was slowed down
