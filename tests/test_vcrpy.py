"""vcrpy both ways: vcrpy plays what tapeproxy recorded; tapeproxy serves what vcrpy recorded,
including the forms older vcrpy versions wrote."""

import ssl
import textwrap
from pathlib import Path

import httpx
import pytest
import requests
import vcr
from test_record import client, record

DATA = Path(__file__).parent / "data"


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
    calls = [
        ("GET", "/seq", None),
        ("GET", "/seq", None),
        ("GET", "/gzip", None),
        ("GET", "/binary", None),
        ("PATCH", "/print/tasks/t1", {"status": {"state": "completed"}}),
    ]

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
    got = run(
        lambda m, u, j: s.request(m, u, json=j, proxies={"https": proxy.url}, verify=proxy.ca, timeout=10).content
    )
    assert got == seen
    assert api.connections == connections  # served offline


# As vcrpy 4.x's httpx stub wrote it: `status_code`/`content` layout, single-valued headers, the body
# httpx had already decoded under the original `content-encoding: gzip` and compressed length.
OLD_VCRPY_HTTPX = """\
interactions:
- request:
    body: ''
    headers:
      accept: '*/*'
      accept-encoding: gzip, deflate
      host: graph.microsoft.com
      user-agent: python-httpx/0.23.0
    method: GET
    uri: https://graph.microsoft.com/v1.0/print/taskDefinitions/d1/tasks/t1
  response:
    content: '{"id": "t1", "status": {"state": "completed", "description": "completed"}}'
    headers:
      content-encoding: gzip
      content-length: '93'
      content-type: application/json;odata.metadata=minimal;odata.streaming=true
      request-id: 0b7c6f6e-7f5a-4b8a-9d0e-1c2b3a4d5e6f
    http_version: HTTP/1.1
    status_code: 200
- request:
    body: null
    headers:
      Accept:
      - '*/*'
      User-Agent:
      - python-requests/2.32.3
    method: DELETE
    uri: https://api.box.com/2.0/tasks/11446498
  response:
    body:
      string: ''
    headers:
      Date:
      - Sun, 22 Nov 2026 10:00:00 GMT
    status:
      code: 204
      message: No Content
- request:
    body: null
    headers: {}
    method: GET
    uri: https://api.box.com/2.0/files/12345/tasks
  response:
    body:
      string: null
    headers:
      Content-Encoding:
      - gzip
    status:
      code: 200
      message: OK
version: 1
"""


def test_old_vcrpy_quirks_are_served_correctly(start_cli, tmp_path):
    path = tmp_path / "old-vcrpy.yaml"
    path.write_text(OLD_VCRPY_HTTPX)
    proxy = start_cli("replay", str(path))
    with httpx.Client(proxy=proxy.url, verify=ssl.create_default_context(cafile=proxy.ca), trust_env=False) as h:
        r = h.get("https://graph.microsoft.com/v1.0/print/taskDefinitions/d1/tasks/t1")
        assert r.json()["status"]["state"] == "completed"
        assert "content-encoding" not in r.headers and r.headers["content-length"] == str(len(r.content))
        # '' and null request bodies both mean "no body": either client's requests match either recording
        assert h.delete("https://api.box.com/2.0/tasks/11446498").status_code == 204
        r = h.get("https://api.box.com/2.0/files/12345/tasks")
        assert r.status_code == 200 and r.content == b"" and "content-encoding" not in r.headers
    s = requests.Session()
    s.trust_env = False
    r = s.get(
        "https://graph.microsoft.com/v1.0/print/taskDefinitions/d1/tasks/t1",
        proxies={"https": proxy.url},
        verify=proxy.ca,
        timeout=10,
    )
    assert r.json()["id"] == "t1"
    assert "MISS" not in proxy.output


def test_old_vcrpy_cassettes_with_tuple_tags_replay(start_cli):
    proxy = start_cli("replay", str(DATA / "vcrpy-old-tags.yaml"))
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    r = s.get("https://graph.microsoft.com/v1.0/me")
    assert r.json()["displayName"] == "Adele Vance"
    assert r.headers["Content-Type"] == "application/json; odata.metadata=minimal"
    r = s.post(
        "https://graph.microsoft.com/v1.0/me/sendMail", json={"saveToSentItems": False, "message": {"subject": "Hello"}}
    )  # the BytesIO body, as data
    assert r.status_code == 202


def test_object_building_tags_are_still_refused(tmp_path):
    from tapeproxy.core import cassette
    from tapeproxy.core.errors import InputError

    bad = tmp_path / "bad.yaml"
    bad.write_text("interactions:\n- request: !!python/object/new:subprocess.Popen {args: [[touch, x]]}\n")
    with pytest.raises(InputError, match=r"bad\.yaml:2: tag .*python/object/new:subprocess\.Popen is not allowed"):
        cassette.load(bad)


def test_old_body_and_header_forms_load_as_plain_data(tmp_path):
    from tapeproxy.core import cassette
    from tapeproxy.core.errors import InputError

    path = tmp_path / "old.yaml"
    path.write_text(
        textwrap.dedent("""\
        interactions:
        - request:
            body: !!python/object/apply:builtins.iter
              args: [[!!binary 'YWJj', 'def']]
            headers: [[Accept, ['*/*']], !!python/tuple [X-Two, [a, b]]]
            method: POST
            uri: https://api.box.com/2.0/files/content
          response: {status: {code: 201, message: Created}, headers: null, body: {string: ''}}
        version: 1
        """)
    )
    [loaded] = cassette.load(path)
    assert loaded.request.body == b"abcdef"
    assert loaded.request.headers == (("Accept", "*/*"), ("X-Two", "a"), ("X-Two", "b"))
    path.write_text(
        "interactions:\n- request:\n    method: GET\n    uri: https://api.box.com/\n"
        "    headers:\n    - [Accept]\n  response: {status: {code: 200}}\n"
    )
    with pytest.raises(InputError, match=r"old\.yaml:6: header entry 1 is not a \[name, value\] pair"):
        cassette.load(path)
