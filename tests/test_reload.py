"""Hot reload through a running proxy: an edit is live within a second on the connection already
open; a broken edit keeps the last good version serving and the log names file and line."""

import http.client
import json
import time
from pathlib import Path

import yaml
from helpers import AUTH, BOX_TASK_URL, interaction, write_cassette

TASK_URL = "https://api.box.com/2.0/tasks/1"


class Tunnel:
    """One HTTPS connection through the proxy, kept open: its socket must survive every reload."""

    def __init__(self, proxy, host: str):
        import ssl

        address = proxy.url.removeprefix("http://")
        self.conn = http.client.HTTPSConnection(
            address.rsplit(":", 1)[0],
            int(address.rsplit(":", 1)[1]),
            context=ssl.create_default_context(cafile=proxy.ca),
            timeout=10,
        )
        self.conn.set_tunnel(host)
        self.conn.connect()
        self.sock = self.conn.sock

    def get(self, path: str):
        self.conn.request("GET", path, headers=AUTH)
        resp = self.conn.getresponse()
        body = resp.read()
        assert self.conn.sock is self.sock, "the proxy dropped the connection"
        return resp.status, body


def _until(check, seconds: float = 1.0):
    """Seconds until check() is true; fails after `seconds`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, "not live within a second"
        time.sleep(0.02)
    return time.monotonic() - start


def _edit(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)  # as editors save


def test_a_cassette_edit_is_live_within_a_second_and_a_broken_one_is_not_served(start_cli, tmp_path):
    path = write_cassette(tmp_path / "c.yaml", [interaction("GET", TASK_URL, body={"v": 1})])
    proxy = start_cli("replay", str(path))
    tunnel = Tunnel(proxy, "api.box.com")
    assert json.loads(tunnel.get("/2.0/tasks/1")[1]) == {"v": 1}
    write_cassette(path, [interaction("GET", TASK_URL, body={"v": 2})])
    _until(lambda: json.loads(tunnel.get("/2.0/tasks/1")[1]) == {"v": 2})
    _edit(path, path.read_text().replace("code: 200", "code: two hundred"))
    assert proxy.wait_for("still serving the previous cassettes", 2), proxy.output
    assert "c.yaml:" in proxy.output and "status code must be an integer" in proxy.output
    assert json.loads(tunnel.get("/2.0/tasks/1")[1]) == {"v": 2}
    write_cassette(path, [interaction("GET", TASK_URL, body={"v": 3})])
    _until(lambda: json.loads(tunnel.get("/2.0/tasks/1")[1]) == {"v": 3})
    assert proxy.proc.poll() is None


def test_a_scenario_edit_is_live_and_keeps_its_counters_where_unchanged(start_cli, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: edited\nrules:\n  - {match: {path: /2.0/tasks/1}, respond: {json: {v: 1}}}\n")
    proxy = start_cli("demo", "--scenario", str(path))
    tunnel = Tunnel(proxy, "api.box.com")
    assert json.loads(tunnel.get("/2.0/tasks/1")[1]) == {"v": 1}
    _edit(path, "name: edited\nrules:\n  - {match: {path: /2.0/tasks/1}, respond: {json: {v: 2}}}\n")
    _until(lambda: json.loads(tunnel.get("/2.0/tasks/1")[1]) == {"v": 2})
    _edit(path, "name: edited\nrules:\n  - {match: {path: /2.0/tasks/1}, respond: {jsn: {v: 3}}}\n")
    assert proxy.wait_for("still serving the previous scenarios", 2), proxy.output
    assert "s.yaml:3: unknown key 'jsn'" in proxy.output
    assert json.loads(tunnel.get("/2.0/tasks/1")[1]) == {"v": 2}


def test_a_world_edit_is_live_and_a_broken_one_keeps_the_last_good_world(start_cli, tmp_path):
    from tapeproxy import bundled

    world = yaml.safe_load((bundled("sim") / "default-world.yaml").read_text())
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(world))
    proxy = start_cli("demo", "--world", str(path))
    tunnel = Tunnel(proxy, "api.box.com")
    task_path = BOX_TASK_URL.removeprefix("https://api.box.com")
    original = json.loads(tunnel.get(task_path)[1])["message"]
    for task in world["box"]["tasks"]:
        if task["id"] == "11446498":
            task["message"] = "edited while running"
    _edit(path, yaml.safe_dump(world))
    _until(lambda: json.loads(tunnel.get(task_path)[1])["message"] == "edited while running")
    assert original != "edited while running"
    _edit(path, path.read_text() + "bux: {}\n")
    assert proxy.wait_for("still serving the previous world", 2), proxy.output
    assert "unknown key 'bux' in the world" in proxy.output
    assert json.loads(tunnel.get(task_path)[1])["message"] == "edited while running"


def test_the_recorders_own_writes_are_not_reloaded(start_cli, tmp_path, api):
    # new_episodes replays a two-step sequence while recording something new; the recorder's flush
    # rewrites the cassette, which must not restart the sequence as an edit would.
    from test_record import client

    seq = "https://graph.microsoft.com/v1.0/seq"
    path = write_cassette(
        tmp_path / "ep.yaml", [interaction("GET", seq, body={"n": 1}), interaction("GET", seq, body={"n": 2})]
    )
    local = f"https://127.0.0.1:{api.port}"
    proxy = start_cli(
        "replay",
        str(path),
        "--record-mode",
        "new_episodes",
        "--no-repeat-last",
        "--upstream",
        f"graph.microsoft.com={local}",
        "--upstream-ca",
        str(api.cert),
    )
    s = client(proxy)
    assert s.get(seq).json() == {"n": 1}
    assert s.get("https://graph.microsoft.com/v1.0/other").status_code == 200  # recorded, flushed within a second
    _until(lambda: "other" in path.read_text(), 3)
    time.sleep(0.6)  # more than two polls
    assert s.get(seq).json() == {"n": 2}


def test_a_scenario_edit_that_takes_another_ones_name_is_refused(start_cli, tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("name: first\nrules:\n  - {match: {path: /2.0/tasks/1}, respond: {json: {v: a}}}\n")
    second.write_text("name: second\nrules:\n  - {match: {path: /2.0/tasks/2}, respond: {json: {v: b}}}\n")
    proxy = start_cli("demo", "--scenario", str(first), "--scenario", str(second))
    _edit(second, second.read_text().replace("name: second", "name: first"))
    assert proxy.wait_for("still serving the previous scenarios", 2), proxy.output
    assert "two scenarios are named 'first'" in proxy.output
    assert json.loads(Tunnel(proxy, "api.box.com").get("/2.0/tasks/2")[1]) == {"v": "b"}


def test_a_cassette_rewritten_in_place_piece_by_piece_is_loaded_once_it_is_whole(start_cli, tmp_path):
    import threading

    def cassette(version: int) -> str:
        return yaml.safe_dump(
            {
                "interactions": [
                    interaction("GET", f"https://api.box.com/2.0/tasks/{n}", body={"n": n, "v": version})
                    for n in range(1, 21)
                ],
                "version": 1,
            },
            sort_keys=False,
        )

    path = tmp_path / "c.yaml"
    path.write_text(cassette(1))
    proxy = start_cli("replay", str(path))
    tunnel = Tunnel(proxy, "api.box.com")
    assert json.loads(tunnel.get("/2.0/tasks/20")[1]) == {"n": 20, "v": 1}
    # Every piece ends where an interaction does, so each state of the file parses, with fewer
    # interactions than the whole: a reload of one would make task 20 a miss.
    text = cassette(2)
    cuts = [i for i in range(len(text)) if text.startswith("- request:", i)][1:] + [len(text)]
    writing = threading.Event()
    writing.set()

    def rewrite():
        with open(path, "w") as f:  # in place, as some editors and tools write
            start = 0
            for cut in cuts:
                f.write(text[start:cut])
                f.flush()
                start = cut
                time.sleep(0.04)
        writing.clear()

    writer = threading.Thread(target=rewrite)
    writer.start()
    seen = []
    while writing.is_set():
        seen.append(tunnel.get("/2.0/tasks/20")[0])
    writer.join()
    _until(lambda: json.loads(tunnel.get("/2.0/tasks/20")[1]) == {"n": 20, "v": 2})
    assert set(seen) == {200}, seen
    assert proxy.output.count("reloaded cassettes") == 1, proxy.output
