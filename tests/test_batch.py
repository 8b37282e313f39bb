"""Graph $batch steps are requests like any other: journaled, watched for Retry-After, recorded
while recording and replayed alone or batched; and tapeproxy's addons are mitmproxy's to reach."""

import json

import requests
from helpers import AUTH, GRAPH_TASK_URL

from tapeproxy.assembly import Tapeproxy
from tapeproxy.core import cassette
from tapeproxy.runtime.inprocess import BackgroundProxy

G = "https://graph.microsoft.com/v1.0"
TASK = GRAPH_TASK_URL.split("/v1.0", 1)[1]


def session(proxy_url, ca) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy_url}
    s.verify = ca
    s.headers.update(AUTH)
    return s


def by_id(r: requests.Response) -> dict:
    assert r.status_code == 200, r.text
    return {x["id"]: x for x in r.json()["responses"]}


def test_steps_are_journaled_and_an_early_retry_of_a_step_is_flagged(start_cli, tmp_path):
    report = tmp_path / "report.json"
    proxy = start_cli("demo", "--scenario", "graph-throttle-once", "--report", str(report))
    s = session(proxy.url, proxy.ca)
    assert s.get(f"{G}/print/taskDefinitions").status_code == 429  # each endpoint's first call is throttled
    batch = {
        "requests": [
            {"id": "1", "method": "GET", "url": TASK},
            {"id": "2", "method": "GET", "url": "/print/taskDefinitions"},
        ]
    }
    assert s.post(f"{G}/$batch", json=batch).status_code == 429  # $batch's too
    steps = by_id(s.post(f"{G}/$batch", json=batch))
    assert steps["1"]["status"] == 429 and steps["1"]["headers"]["Retry-After"] == "1"
    assert steps["2"]["status"] == 200
    assert s.get(GRAPH_TASK_URL).status_code == 200  # the throttled step, retried alone at once
    assert proxy.stop() == 0

    summary = json.loads(report.read_text())
    assert summary["requests"] == 6  # 2 alone, 2 batches, and the steps of the second
    assert summary["by_source"] == {"scenario": 3, "simulation": 2, "batch": 1}
    # the step after a throttled taskDefinitions, the batch after a throttled batch, the step retried alone
    assert [e["url"] for e in summary["early_retries"]] == [f"{G}/print/taskDefinitions", f"{G}/$batch", GRAPH_TASK_URL]
    assert f"GET {GRAPH_TASK_URL} -> 429 scenario graph-throttle-once" in proxy.output  # the step's own line
    assert "[$batch step 1]" in proxy.output and "[$batch step 2]" in proxy.output


def test_steps_nothing_offline_answers_are_recorded_then_replayed_alone_and_batched(start_cli, api, tmp_path):
    recorded = tmp_path / "rec.yaml"
    recorded.write_text("interactions: []\nversion: 1\n")
    local = f"https://127.0.0.1:{api.port}"
    proxy = start_cli(
        "replay",
        str(recorded),
        "--record-mode",
        "new_episodes",
        "--simulate",
        "--upstream",
        f"graph.microsoft.com={local}",
        "--upstream-ca",
        str(api.cert),
    )
    s = session(proxy.url, proxy.ca)
    steps = by_id(
        s.post(
            f"{G}/$batch",
            json={
                "requests": [
                    {"id": "a", "method": "PATCH", "url": TASK, "body": {"status": {"state": "aborted"}}},
                    {"id": "b", "method": "GET", "url": "/me?$select=displayName"},
                ]
            },
        )
    )
    assert steps["a"]["status"] == 200  # the simulation answered: not the service's, so not recorded
    assert steps["b"]["status"] == 200 and steps["b"]["body"]["path"] == "/v1.0/me?$select=displayName"
    assert steps["b"]["body"]["host"] == "graph.microsoft.com"
    assert proxy.stop() == 0
    assert "recorded 1 interaction(s)" in proxy.output
    [interaction] = cassette.load(recorded)
    assert (interaction.request.method, interaction.request.uri) == ("GET", f"{G}/me?$select=displayName")

    before = api.connections
    replay = start_cli("replay", str(recorded), "--simulate")
    s = session(replay.url, replay.ca)
    assert s.get(f"{G}/me?$select=displayName").json() == steps["b"]["body"]
    again = by_id(
        s.post(f"{G}/$batch", json={"requests": [{"id": "x", "method": "GET", "url": "me?$select=displayName"}]})
    )
    assert again["x"]["status"] == 200 and again["x"]["body"] == steps["b"]["body"]
    assert api.connections == before


def test_steps_are_relative_and_never_batches(start_cli):
    proxy = start_cli("demo")
    s = session(proxy.url, proxy.ca)
    absolute = s.post(
        f"{G}/$batch", json={"requests": [{"id": "1", "method": "GET", "url": "http://127.0.0.1:9/secret"}]}
    )
    assert absolute.status_code == 400 and "relative" in absolute.json()["error"]["message"]
    nested = by_id(
        s.post(
            f"{G}/$batch",
            json={"requests": [{"id": "1", "method": "POST", "url": "/$batch", "body": {"requests": []}}]},
        )
    )
    assert nested["1"]["status"] == 400 and "batch" in nested["1"]["body"]["error"]["message"]
    # a step's headers meet the same checks as a client's: a CR LF in a value is refused, never forwarded
    smuggled = by_id(
        s.post(
            f"{G}/$batch",
            json={"requests": [{"id": "1", "method": "GET", "url": TASK, "headers": {"X-Note": "a\r\nX-Injected: 1"}}]},
        )
    )
    assert smuggled["1"]["status"] == 400 and "obs-fold" in smuggled["1"]["body"]["error"]["message"]


def test_each_addon_is_reachable_by_name_and_its_commands_run(confdir):
    with BackgroundProxy({"tapeproxy_simulate": True, "confdir": str(confdir)}) as proxy:
        master = proxy.master
        tp = master.addons.get("tapeproxy")
        assert master.addons.get("tapeproxy_replay") is tp.replay
        assert master.addons.get("tapeproxy_journal") is tp.journal
        s = session(proxy.url, proxy.ca_path)
        assert s.patch(GRAPH_TASK_URL, json={"status": {"state": "aborted"}}).status_code == 200
        proxy.call(lambda: master.commands.call("tapeproxy.world.reset"))
        assert s.get(GRAPH_TASK_URL).json()["status"]["state"] == "processing"
        assert "tapeproxy.reset" in master.commands.commands
        # mitmproxy reloading an edited `-s` script removes the addon and adds a new one
        proxy.call(lambda: master.addons.remove(tp))
        assert master.addons.get("tapeproxy_replay") is None
        fresh = Tapeproxy()
        proxy.call(lambda: master.addons.add(fresh))
        assert master.addons.get("tapeproxy_replay") is fresh.replay
