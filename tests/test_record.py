"""Record through a running proxy from local HTTPS stand-ins, then replay what was recorded."""

import json
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from helpers import SECRETS

from tapeproxy.core import cassette


def record(start_cli, api, path, *extra):
    local = f"https://127.0.0.1:{api.port}"
    return start_cli(
        "record",
        "--cassette",
        str(path),
        "--upstream",
        f"graph.microsoft.com={local}",
        "--upstream",
        f"api.box.com={local}",
        "--upstream-ca",
        str(api.cert),
        *extra,
    )


def client(proxy) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    s.proxies = {"https": proxy.url}
    s.verify = proxy.ca
    s.headers.update({"Authorization": f"Bearer {SECRETS['bearer']}", "Cookie": SECRETS["cookie"]})
    return s


def session_calls(s):
    """The same calls, recorded first and replayed second: their answers must be identical."""
    g = "https://graph.microsoft.com/v1.0"
    out = [s.get(f"{g}/seq").json() for _ in range(3)]
    out.append(s.patch(f"{g}/print/tasks/t1", json={"status": {"state": "completed"}}).json())
    gz = s.get(f"{g}/gzip")
    out.append(gz.json())
    out.append(s.get(f"{g}/binary").content)
    out.append(
        s.post(
            "https://api.box.com/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "abc", "client_secret": SECRETS["client_secret"]},
        ).json()
    )
    out.append(s.get(f"{g}/cookies?$top=2").headers.get("Set-Cookie"))
    return out


def test_record_then_replay_gives_identical_answers_and_no_secret_on_disk(start_cli, api, tmp_path):
    path = tmp_path / "rec.yaml"
    proxy = record(start_cli, api, path)
    recorded = session_calls(client(proxy))
    assert recorded[:3] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert recorded[4] == {"compressed": True, "host": "graph.microsoft.com"}  # Host kept for the mapped server
    assert proxy.stop() == 0
    assert "tapeproxy recorded #1 GET https://graph.microsoft.com/v1.0/seq -> 200" in proxy.output
    assert "recorded 8 interaction(s)" in proxy.output and f"in {path}" in proxy.output

    text = path.read_text()
    for name, secret in SECRETS.items():
        assert secret.split("=")[-1] not in text, f"{name} leaked into the cassette"
        assert secret.split("=")[-1] not in proxy.output, f"{name} leaked into the log"
    assert "Bearer REDACTED-authorization-1" in text
    assert "!!binary" in text and '"compressed": true' in text.replace("\\", "")
    interactions = cassette.load(path)
    assert [i.request.uri for i in interactions][:3] == ["https://graph.microsoft.com/v1.0/seq"] * 3
    gz = interactions[4].response
    assert not any(k.lower() == "content-encoding" for k, _ in gz.headers)  # decoded, header fixed

    # Replayed by a new proxy, offline: identical answers, the redacted client_secret matches any value.
    replay = start_cli("replay", str(path))
    s = client(replay)
    replayed = session_calls(s)
    assert replayed[:6] == recorded[:6]
    # Secrets the service sent back are served as their placeholders; everything else is as recorded.
    assert replayed[6] == {
        **recorded[6],
        "access_token": "REDACTED-access_token-1",
        "refresh_token": "REDACTED-refresh_token-1",
    }
    assert replayed[7] == "REDACTED-set-cookie-1, REDACTED-set-cookie-2"  # every Set-Cookie value
    assert api.connections  # the recording did go upstream...
    before = api.connections
    r = s.post(
        "https://api.box.com/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": "abc", "client_secret": "another"},
    )
    assert r.status_code == 200
    assert api.connections == before  # ...the replay never does


def test_new_episodes_replays_what_exists_and_records_what_is_missing(start_cli, api, tmp_path):
    path = tmp_path / "ep.yaml"
    proxy = record(start_cli, api, path)
    client(proxy).get("https://graph.microsoft.com/v1.0/seq")
    proxy.stop()
    local = f"https://127.0.0.1:{api.port}"
    proxy = start_cli(
        "replay",
        str(path),
        "--record-mode",
        "new_episodes",
        "--upstream",
        f"graph.microsoft.com={local}",
        "--upstream-ca",
        str(api.cert),
    )
    s = client(proxy)
    assert s.get("https://graph.microsoft.com/v1.0/seq").json() == {"n": 1}  # replayed
    assert s.get("https://graph.microsoft.com/v1.0/other").json()["path"] == "/v1.0/other"  # recorded
    proxy.stop()
    assert [i.request.uri.rsplit("/", 1)[1] for i in cassette.load(path)] == ["seq", "other"]
    # the log numbers it as the cassette does: the second interaction (issue 27, 20: it said #1)
    assert "tapeproxy recorded #2 GET https://graph.microsoft.com/v1.0/other" in proxy.output, proxy.output


def test_concurrent_clients_lose_and_duplicate_nothing(start_cli, api, tmp_path):
    path = tmp_path / "many.yaml"
    proxy = record(start_cli, api, path)

    def worker(w):
        s = client(proxy)
        return [s.get(f"https://graph.microsoft.com/v1.0/items/{w}-{i}").status_code for i in range(10)]

    with ThreadPoolExecutor(20) as pool:
        statuses = [code for codes in pool.map(worker, range(20)) for code in codes]
    assert statuses == [200] * 200
    proxy.stop()
    uris = [i.request.uri for i in cassette.load(path)]
    assert len(uris) == 200 and len(set(uris)) == 200


def test_kill_9_leaves_a_loadable_cassette_with_everything_older_than_a_second(start_cli, api, tmp_path):
    path = tmp_path / "killed.yaml"
    proxy = record(start_cli, api, path)
    done: list[tuple[float, str]] = []
    stop = threading.Event()

    def traffic(worker: int):
        s = client(proxy)
        i = 0
        while not stop.is_set():
            try:
                s.get(f"https://graph.microsoft.com/v1.0/k/{worker}-{i}", timeout=5)
                done.append((time.monotonic(), f"/v1.0/k/{worker}-{i}"))
            except requests.RequestException:
                return
            i += 1

    # under load: eight clients at once, so the kill lands mid-write as well as mid-request
    threads = [threading.Thread(target=traffic, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(3)
    killed_at = time.monotonic()
    proxy.proc.send_signal(signal.SIGKILL)
    proxy.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(10)
    must_have = {p for when, p in done if when < killed_at - 1.0}
    assert len(must_have) > 40
    got = {i.request.uri.split(".com", 1)[1] for i in cassette.load(path)}
    assert must_have <= got


def test_all_mode_records_everything_and_replaces_old_recordings_of_the_same_request(start_cli, api, tmp_path):
    path = tmp_path / "all.yaml"
    proxy = record(start_cli, api, path)
    s = client(proxy)
    assert [s.get(f"https://graph.microsoft.com/v1.0/{p}").json().get("n") for p in ("seq", "seq", "other")] == [
        1,
        2,
        None,
    ]
    proxy.stop()

    # once, with the cassette there: replay only; what is not recorded is a miss, not a recording
    proxy = record(start_cli, api, path)
    s = client(proxy)
    assert s.get("https://graph.microsoft.com/v1.0/seq").json() == {"n": 1}
    assert s.get("https://graph.microsoft.com/v1.0/new").headers.get("X-Tapeproxy-Miss") == "1"
    proxy.stop()

    proxy = record(start_cli, api, path, "--record-mode", "all")
    s = client(proxy)
    assert [s.get("https://graph.microsoft.com/v1.0/seq").json() for _ in range(2)] == [{"n": 3}, {"n": 4}]  # live
    proxy.stop()
    assert "recorded 2 interaction(s)" in proxy.output
    got = [(i.request.uri.rsplit("/", 1)[1], i.response.body) for i in cassette.load(path)]
    assert [u for u, _ in got] == ["other", "seq", "seq"]
    assert [b for u, b in got if u == "seq"] == [b'{"n": 3}', b'{"n": 4}']


def test_ctrl_c_flushes_what_was_recorded(start_cli, api, tmp_path):
    path = tmp_path / "int.yaml"
    proxy = record(start_cli, api, path)
    s = client(proxy)
    for i in range(5):
        s.get(f"https://graph.microsoft.com/v1.0/c/{i}")
    assert proxy.stop(signal.SIGINT) == 0  # at once: before the periodic flush could run
    assert "recorded 5 interaction(s)" in proxy.output
    assert [i.request.uri.rsplit("/", 1)[1] for i in cassette.load(path)] == ["0", "1", "2", "3", "4"]


def test_a_full_disk_is_said_at_once_retried_until_it_saves_and_told_at_exit(tmp_path):
    """In a mount namespace of its own: a 128 KiB tmpfs the cassette lives on, filled and freed."""
    from pathlib import Path

    from helpers import on_small_disk

    seen = on_small_disk("diskfull_probe.py", "128k", tmp_path)
    mnt = Path(seen["mnt"])
    log = seen["output"]
    assert seen["answers"] == [200] * 10  # the clients were served all along
    assert seen["before_full"] == 3
    assert seen["said_at_once"], log  # logged at once: what, where, why
    assert f"could not save 5 recorded interaction(s) to {mnt / 'rec.yaml'}: No space left on device" in log, log
    assert seen["while_full"] == 3  # what was on disk stays, whole
    assert seen["said_saved"] and seen["after_freeing"] == 8, log  # retried until it saved
    assert seen["exit"] == 1 and seen["at_exit"] == 8  # the exit status and the summary tell the truth
    assert "COULD NOT SAVE 2 of 10 recorded interaction(s)" in log and "Traceback" not in log, log


def _raw_get(s, url):
    r = s.get(url, stream=True)
    return r.status_code, r.headers.get("Content-Encoding"), r.raw.read(decode_content=False)


def test_a_body_that_does_not_decode_is_kept_as_received_and_replayed_so(start_cli, api, tmp_path):
    """Upstream says gzip and sends something else: the client got those bytes with that header, so
    replay must give it the same, not a plain body that looks fine (issue 15, item 10)."""
    from helpers import BAD_GZIP

    path = tmp_path / "rec.yaml"
    proxy = record(start_cli, api, path)
    url = "https://graph.microsoft.com/v1.0/reports/badgzip"
    assert _raw_get(client(proxy), url) == (200, "gzip", BAD_GZIP)
    assert proxy.stop() == 0
    assert "does not decode as its Content-Encoding (gzip) says" in proxy.output
    text = path.read_text()
    assert "!!binary" in text and "body_as_received: true" in text
    [i] = cassette.load(path)
    assert i.response.body == BAD_GZIP and ("Content-Encoding", "gzip") in i.response.headers
    replay = start_cli("replay", str(path))
    assert _raw_get(client(replay), url) == (200, "gzip", BAD_GZIP)


def test_a_recorded_multipart_upload_replays_with_another_boundary_and_key_order(start_cli, api, tmp_path):
    """requests (as box-sdk-gen does) picks a new random boundary for every upload: the recorded one
    never comes again. Parts are compared instead: JSON as data, the file by its content."""
    path = tmp_path / "upload.yaml"
    proxy = record(start_cli, api, path, "--upstream", f"upload.box.com=https://127.0.0.1:{api.port}")
    url = "https://upload.box.com/api/2.0/files/content"
    content = bytes(range(256)) * 4

    def upload(s, attributes: dict, data: bytes):
        return s.post(
            url,
            files={
                "attributes": (None, json.dumps(attributes), "application/json"),
                "file": ("contract.pdf", data, "application/pdf"),
            },
        )

    recorded = upload(client(proxy), {"name": "contract.pdf", "parent": {"id": "0"}}, content)
    assert recorded.status_code == 201
    assert proxy.stop() == 0

    replay = start_cli("replay", str(path))
    s = client(replay)
    again = upload(s, {"parent": {"id": "0"}, "name": "contract.pdf"}, content)
    assert (again.status_code, again.content) == (201, recorded.content)
    changed = upload(s, {"name": "contract.pdf", "parent": {"id": "0"}}, content[:-1] + b"!")
    assert changed.status_code == 404 and changed.headers["X-Tapeproxy-Miss"] == "1"
    assert "body part 'file' content differs: 1024 bytes, sha256 " in changed.text, changed.text


def test_the_last_flush_at_stop_is_not_overwritten_by_an_older_one_still_writing(api, tmp_path, confdir, monkeypatch):
    """The flush loop writes in a worker thread; a stop that writes everything while that older
    write is still going must not have the older one land last (issue 28's flaky namespace test)."""
    from tapeproxy.core import writer
    from tapeproxy.runtime.inprocess import BackgroundProxy

    path, write = tmp_path / "slow.yaml", writer.write_atomic
    main = threading.main_thread()

    def slow_in_the_worker(target, entries):
        if threading.current_thread() is not main and len(entries) == 1:
            time.sleep(1.5)  # a slow disk: the stop comes while this write is under way
        write(target, entries)

    monkeypatch.setattr(writer, "write_atomic", slow_in_the_worker)
    settings = {
        "confdir": str(confdir),
        "tapeproxy_record_mode": "all",
        "tapeproxy_record_to": str(path),
        "tapeproxy_upstreams": [f"graph.microsoft.com=https://127.0.0.1:{api.port}"],
        "ssl_verify_upstream_trusted_ca": str(api.cert),
    }
    proxy = BackgroundProxy(settings).start()
    s = requests.Session()
    s.trust_env, s.proxies, s.verify = False, {"https": proxy.url}, proxy.ca_path
    s.get("https://graph.microsoft.com/v1.0/seq")
    time.sleep(0.8)  # the flush loop has begun writing the first
    s.get("https://graph.microsoft.com/v1.0/seq")
    proxy.stop()
    assert [i.request.uri for i in cassette.load(path)] == ["https://graph.microsoft.com/v1.0/seq"] * 2
