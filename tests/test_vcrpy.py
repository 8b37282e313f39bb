"""vcrpy both ways: vcrpy plays what tapeproxy recorded; tapeproxy serves what vcrpy recorded."""

import ssl

import httpx
import pytest
import requests
import vcr

from test_record import client, record


def test_vcrpy_plays_a_cassette_tapeproxy_recorded(start_cli, api, tmp_path):
    path = tmp_path / "tp.yaml"
    proxy = record(start_cli, api, path)
    s = client(proxy)
    live = [s.get("https://graph.microsoft.com/v1.0/seq").json() for _ in range(2)]
    live_gzip = s.get("https://graph.microsoft.com/v1.0/gzip").json()
    live_binary = s.get("https://graph.microsoft.com/v1.0/binary").content
    proxy.stop()

    with vcr.use_cassette(str(path), record_mode="none"):
        assert [requests.get("https://graph.microsoft.com/v1.0/seq").json() for _ in range(2)] == live
        assert requests.get("https://graph.microsoft.com/v1.0/gzip").json() == live_gzip
    with vcr.use_cassette(str(path), record_mode="none"):
        with httpx.Client() as h:
            assert [h.get("https://graph.microsoft.com/v1.0/seq").json() for _ in range(2)] == live
            assert h.get("https://graph.microsoft.com/v1.0/binary").content == live_binary


@pytest.mark.parametrize("library", ["requests", "httpx"])
def test_tapeproxy_serves_a_cassette_vcrpy_recorded(start_cli, api, tmp_path, library):
    path = tmp_path / f"vcr-{library}.yaml"
    base = f"https://127.0.0.1:{api.port}/v1.0"
    calls = [("GET", "/seq", None), ("GET", "/seq", None), ("GET", "/gzip", None), ("GET", "/binary", None),
             ("PATCH", "/print/tasks/t1", {"status": {"state": "completed"}})]

    def run(send):
        return [send(m, base + p, j) for m, p, j in calls]

    with vcr.use_cassette(str(path), record_mode="once"):
        if library == "requests":
            seen = run(lambda m, u, j: requests.request(m, u, json=j, verify=str(api.cert)).content)
        else:
            with httpx.Client(verify=ssl.create_default_context(cafile=str(api.cert))) as h:
                seen = run(lambda m, u, j: h.request(m, u, json=j).content)
    connections = api.connections

    proxy = start_cli("replay", str(path), "--intercept-host", "127.0.0.1")
    s = requests.Session()
    s.trust_env = False
    got = run(lambda m, u, j: s.request(m, u, json=j, proxies={"https": proxy.url}, verify=proxy.ca, timeout=10).content)
    assert got == seen
    assert api.connections == connections  # served offline
