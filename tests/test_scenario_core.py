"""Unit tests of the pure scenario core: path templates, triggers and buckets on a fake clock."""

import pytest

from tapeproxy.core import paths, scenario
from tapeproxy.core.engine import ScenarioEngine
from tapeproxy.core.matching import Shape


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def load(tmp_path, text):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    return scenario.load(path)


def req(url, method="GET", body=b"", headers=()):
    return Shape.from_uri(method, url, list(headers), body)


@pytest.mark.parametrize(
    "template, path, params",
    [
        ("/v1.0/print/taskDefinitions/{d}/tasks/{t}", "/v1.0/print/taskDefinitions/a/tasks/b", {"d": "a", "t": "b"}),
        ("/v1.0/print/taskDefinitions/{d}/tasks/{t}", "/v1.0/print/taskDefinitions/a/tasks", None),
        ("/2.0/**", "/2.0/files/1/tasks", {}),
        ("/2.0/**", "/2.0", {}),
        ("/2.0/files/*/tasks", "/2.0/files/9/tasks", {}),
        ("/2.0/files/*/tasks", "/2.0/files/9/x/tasks", None),
        ("/v1.0/users/{id}", "/v1.0/users/a%40b.com", {"id": "a%40b.com"}),
        ("/v1.0/$batch", "/v1.0/$batch", {}),
        # the rest of the path, as a resource module's route takes an address it parses itself
        (
            "/{v}/me/drive/{address**}",
            "/v1.0/me/drive/root:/a/b.txt:/content",
            {"v": "v1.0", "address": "/root:/a/b.txt:/content"},
        ),
        ("/{v}/me/drive/{address**}", "/v1.0/me/drive", {"v": "v1.0", "address": ""}),
        ("/{v}/me/drive/{address**}", "/v1.0/me/drive/", {"v": "v1.0", "address": ""}),
        ("/{v}/me/drive/{address**}", "/v1.0/me/drives", None),
    ],
)
def test_path_templates(template, path, params):
    assert paths.PathTemplate(template).match(path) == params


@pytest.mark.parametrize(
    "template, problem",
    [("/a/{rest**}/b", "must come last"), ("/a/{x}/{x}", "appears twice"), ("/a/{1x}", "must be a name")],
)
def test_path_templates_refuse_what_they_cannot_mean(template, problem):
    with pytest.raises(ValueError, match=problem):
        paths.PathTemplate(template)


def test_routes_answer_the_first_template_that_matches():
    routes = paths.Routes(("session", "/files/upload_sessions/{id}"), ("file", "/files/{id}/{what}"))
    assert routes.match("/files/upload_sessions/AB") == ("session", {"id": "AB"})
    assert routes.match("/files/12/content") == ("file", {"id": "12", "what": "content"})
    assert routes.match("/folders/1") is None


def test_latency_rules_add_up_wherever_they_stand_and_action_rules_fall_through(tmp_path):
    s = load(
        tmp_path,
        """
seed: 1
rules:
  - {every: 2, error: throttled}
  - {delay: 1s}
  - {match: {body: {status: {state: completed}}}, respond: {json: {ok: 1}}}
  - {delay: 2s}
""",
    )
    engine = ScenarioEngine([s], Clock())
    first = engine.decide(
        req(
            "https://graph.microsoft.com/x",
            "PATCH",
            b'{"status": {"state": "completed"}, "a": 1}',
            [("Content-Type", "application/json")],
        )
    )
    assert first.step.kind == "respond" and first.delay == 3.0  # every: 2 did not fire; the body subset did
    second = engine.decide(req("https://graph.microsoft.com/x"))
    assert second.step.error == "throttled" and second.delay == 3.0


def test_token_bucket_and_time_window_on_a_fake_clock(tmp_path):
    clock = Clock()
    s = load(
        tmp_path,
        """
rules:
  - {match: {path: /down}, window: {from: 5s, until: 10s}, error: service_unavailable}
  - {match: {path: /limited}, per: token, rate_limit: {requests: 2, per: 1s}}
""",
    )
    engine = ScenarioEngine([s], clock)
    assert engine.decide(req("https://h/down")) is None  # not yet
    clock.now += 5
    assert engine.decide(req("https://h/down")).step.error == "service_unavailable"
    clock.now += 5
    assert engine.decide(req("https://h/down")) is None  # recovered

    a = [("Authorization", "Bearer a")]
    assert [engine.decide(req("https://h/limited", headers=a)) for _ in range(2)] == [None, None]
    limited = engine.decide(req("https://h/limited", headers=a))
    assert limited.step.error == "throttled" and limited.retry_after == pytest.approx(0.5)
    assert engine.decide(req("https://h/limited", headers=[("Authorization", "Bearer b")])) is None
    clock.now += 0.5
    assert engine.decide(req("https://h/limited", headers=a)) is None  # one token back
    engine.reset()
    assert engine.decide(req("https://h/down")) is None  # the window starts again from now


def test_seeded_randomness_is_per_rule_and_repeatable(tmp_path):
    s = load(
        tmp_path,
        "seed: 5\nrules:\n  - {probability: 0.5, error: server_error}\n"
        "  - {delay: {lognormal: {median: 100ms, sigma: 1}}}\n",
    )

    def run():
        engine = ScenarioEngine([s], Clock())
        return [(d.step.kind, round(d.delay, 6)) for d in (engine.decide(req("https://h/x")) for _ in range(30))]

    assert run() == run()
    assert len({kind for kind, _ in run()}) == 2


def test_switching_keeps_counters_of_scenarios_that_stay(tmp_path):
    once = load(tmp_path, "name: once\nrules:\n  - {times: 1, error: throttled}\n")
    other = scenario.parse("name: other\nrules:\n  - {match: {path: /o}, error: not_found}\n", "<t>", tmp_path)
    engine = ScenarioEngine([once], Clock())
    assert engine.decide(req("https://h/x")).step.error == "throttled"
    engine.set([other, once])
    assert engine.decide(req("https://h/x")) is None  # once already fired; not reset by the switch
    assert engine.decide(req("https://h/o")).step.error == "not_found"  # order follows the new list


def test_rules_found_by_path_prefix_keep_their_order_whatever_their_prefix(tmp_path):
    # Rules sit under different literal prefixes; the first that fits in rule order must still win,
    # and rules for other paths must not be looked at.
    s = load(
        tmp_path,
        """
rules:
  - {match: {path: "/v1.0/print/taskDefinitions/{d}/tasks/{t}"}, times: 1, respond: {json: {rule: 1}}}
  - {match: {path: "/v1.0/**"}, times: 1, respond: {json: {rule: 2}}}
  - {times: 1, respond: {json: {rule: 3}}}
  - {match: {path: "/v1.0/print/taskDefinitions/{d}/tasks/*"}, respond: {json: {rule: 4}}}
  - {match: {path: "/v1.0/users/{u}"}, respond: {json: {rule: 5}}}
""",
    )
    engine = ScenarioEngine([s], Clock())
    url = "https://graph.microsoft.com/v1.0/print/taskDefinitions/a/tasks/b"
    assert [engine.decide(req(url)).rule.number for _ in range(4)] == [1, 2, 3, 4]
    assert engine.decide(req("https://graph.microsoft.com/v1.0/users/x")).rule.number == 5
    assert engine.decide(req("https://graph.microsoft.com/beta/users/x")) is None
    assert [r.rule.number for _, r in engine._candidates_for("graph.microsoft.com", "GET", "/v1.0/users/x")] == [
        2,
        3,
        5,
    ]


@pytest.mark.parametrize(
    "template, prefix",
    [
        ("/v1.0/print/taskDefinitions/{d}/tasks", ("v1.0", "print", "taskDefinitions")),
        ("/2.0/files/*/tasks", ("2.0", "files")),
        ("/2.0/**", ("2.0",)),
        ("/a%2db/c", ("a-b", "c")),  # as live paths are normalised
        ("/", ()),
    ],
)
def test_path_template_literal_prefix(template, prefix):
    assert paths.PathTemplate(template).literal_prefix == prefix


def test_per_key_counters_are_bounded_and_the_recent_keys_keep_theirs(tmp_path):
    """A rule counted per endpoint, path, token or client keeps state for the keys seen most recently
    only: a client walking unique paths must not grow the proxy without end (issue 15, item 10)."""
    import tracemalloc

    from tapeproxy.core import engine as engine_module

    sc = load(
        tmp_path,
        "rules:\n  - {match: {path: '/2.0/files/*'}, per: path, after: 1, times: 1, error: throttled}\n"
        "  - {match: {path: '/2.0/files/*'}, per: token, rate_limit: {requests: 5, per: 1s}}\n",
    )
    eng = ScenarioEngine([sc], clock=Clock())

    def walk(start, count):
        for i in range(start, start + count):
            eng.decide(req(f"https://api.box.com/2.0/files/{i}", headers=[("Authorization", f"Bearer {i}")]))

    tracemalloc.start()  # before the first key: what is freed later was traced when allocated
    walk(0, 2 * engine_module.MAX_KEYS)  # the tables reach their size
    before = tracemalloc.get_traced_memory()[0]
    walk(2 * engine_module.MAX_KEYS, 2 * engine_module.MAX_KEYS)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 200_000, f"{grown} bytes for {2 * engine_module.MAX_KEYS} more unique paths"
    # the totals count every request, and a recent key still has its own counter
    assert eng.describe()[0]["rules"][0]["matched"] == 4 * engine_module.MAX_KEYS
    recent = req("https://api.box.com/2.0/files/7", headers=[("Authorization", "Bearer 7")])
    assert eng.decide(recent) is None  # first match of this path: `after: 1` lets it pass
    assert eng.decide(recent).step.kind == "error"


def test_match_body_looks_into_a_multipart_upload_by_part_name(tmp_path):
    s = load(
        tmp_path,
        """
rules:
  - {match: {host: upload.box.com, body: {attributes: {name: Contract.pdf}}}, error: conflict}
""",
    )
    engine = ScenarioEngine([s], Clock())

    def upload(name: str):
        body = (
            b'--b7\r\nContent-Disposition: form-data; name="attributes"\r\n\r\n'
            + f'{{"name": "{name}", "parent": {{"id": "0"}}}}'.encode()
            + b'\r\n--b7\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n'
            + b"Content-Type: application/octet-stream\r\n\r\n\x00\x01\r\n--b7--\r\n"
        )
        headers = [("Content-Type", "multipart/form-data; boundary=b7")]
        return engine.decide(req("https://upload.box.com/api/2.0/files/content", "POST", body, headers))

    assert upload("Contract.pdf").step.error == "conflict"
    assert upload("Other.pdf") is None
