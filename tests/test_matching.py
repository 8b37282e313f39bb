"""Matching that never serves one request another's recording: significant headers, vcrpy's
`headers` matcher, --match-header; token exchanges that match whoever signs in; and a miss that
names the recording closest to the request."""

import requests
from helpers import interaction, write_cassette

from tapeproxy.core.cassette import Interaction, RecordedRequest, RecordedResponse
from tapeproxy.core.index import Hit, ReplayIndex
from tapeproxy.core.matching import Shape


def test_the_headers_matcher_of_vcrpy_is_accepted(start_cli, tmp_path):
    cassette = write_cassette(
        tmp_path / "h.yaml",
        [
            interaction(
                "GET",
                "https://graph.microsoft.com/v1.0/me",
                body={"tenant": "a"},
                req_headers={"X-Tenant": ["a"], "Authorization": ["REDACTED-authorization-1"]},
            ),
            interaction(
                "GET",
                "https://graph.microsoft.com/v1.0/me",
                body={"tenant": "b"},
                req_headers={"x-tenant": ["b"], "Authorization": ["REDACTED-authorization-2"]},
            ),
        ],
    )
    proxy = start_cli("replay", str(cassette), "--match-on", "method,host,path,query,body,headers")
    assert "matching on method, host, path, query, body, headers" in proxy.output
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    auth = {"Authorization": "Bearer anything"}  # redacted in the recording: any value matches
    assert s.get("https://graph.microsoft.com/v1.0/me", headers={"X-Tenant": "b", **auth}).json() == {"tenant": "b"}
    assert s.get("https://graph.microsoft.com/v1.0/me", headers={"X-TENANT": "a", **auth}).json() == {"tenant": "a"}
    r = s.get("https://graph.microsoft.com/v1.0/me", headers={"X-Tenant": "c", **auth})
    assert r.status_code == 404 and "header x-tenant differs: 'c' vs recorded 'a'" in r.json()["error"]["message"]


def test_match_header_makes_a_header_of_ones_own_significant(start_cli, tmp_path):
    cassette = write_cassette(
        tmp_path / "h.yaml",
        [
            interaction(
                "GET", "https://graph.microsoft.com/v1.0/me", body={"tenant": "a"}, req_headers={"X-Tenant": ["a"]}
            ),
            interaction(
                "GET", "https://graph.microsoft.com/v1.0/me", body={"tenant": "b"}, req_headers={"X-Tenant": ["b"]}
            ),
        ],
    )
    s = requests.Session()
    s.trust_env = False
    plain = start_cli("replay", str(cassette))
    s.proxies, s.verify = {"https": plain.url}, plain.ca
    assert s.get("https://graph.microsoft.com/v1.0/me", headers={"X-Tenant": "b"}).json() == {"tenant": "a"}
    proxy = start_cli("replay", str(cassette), "--match-header", "x-tenant")
    s.proxies = {"https": proxy.url}
    assert s.get("https://graph.microsoft.com/v1.0/me", headers={"X-Tenant": "b"}).json() == {"tenant": "b"}
    assert s.get("https://graph.microsoft.com/v1.0/me", headers={"X-Tenant": "c"}).status_code == 404


def test_graph_consistency_level_is_significant(start_cli, tmp_path):
    cassette = write_cassette(
        tmp_path / "count.yaml",
        [
            interaction(
                "GET",
                "https://graph.microsoft.com/v1.0/users/$count",
                body="17",
                req_headers={"ConsistencyLevel": ["eventual"]},
            ),
        ],
    )
    proxy = start_cli("replay", str(cassette))
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    assert s.get("https://graph.microsoft.com/v1.0/users/$count", headers={"consistencylevel": "eventual"}).text == "17"
    r = s.get("https://graph.microsoft.com/v1.0/users/$count")
    assert r.status_code == 404
    assert "header consistencylevel is missing (recorded: 'eventual')" in r.json()["error"]["message"]


def _interaction(n: int, method: str, uri: str, headers=(), body: bytes = b"") -> Interaction:
    return Interaction(
        RecordedRequest(method, uri, tuple(headers), body), RecordedResponse(200, "OK", (), b""), "c.yaml", n
    )


def _shape(method: str, uri: str, headers=(), body: bytes = b"") -> Shape:
    return Shape.from_uri(method, uri, tuple(headers), body)


def test_a_recording_without_the_header_serves_any_value_and_one_with_it_only_its_own():
    base = "https://api.box.com/2.0/folders/0"
    index = ReplayIndex([_interaction(1, "GET", base), _interaction(2, "GET", base, [("As-User", "42")])])
    assert index.lookup(_shape("GET", base, [("as-user", "42")])).interaction.number == 2
    assert index.lookup(_shape("GET", base, [("As-User", "7")])).interaction.number == 1
    assert index.lookup(_shape("GET", base)).interaction.number == 1


def test_token_exchanges_match_whatever_credentials_are_sent():
    uri = "https://login.microsoftonline.com/tenant/oauth2/v2.0/token"
    form = [("Content-Type", "application/x-www-form-urlencoded")]
    index = ReplayIndex(
        [
            _interaction(
                1,
                "POST",
                uri,
                form,
                b"grant_type=client_credentials&client_id=REC&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default",
            )
        ]
    )
    mine = (
        b"client_id=MINE&client_secret=s3cret&grant_type=client_credentials"
        b"&scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
    )
    assert isinstance(index.lookup(_shape("POST", uri, form, mine)), Hit)
    # the grant type and the scope still count
    assert not isinstance(
        index.lookup(_shape("POST", uri, form, mine.replace(b"client_credentials", b"password"))), Hit
    )
    assert not isinstance(index.lookup(_shape("POST", uri, form, mine.replace(b"graph", b"vault"))), Hit)
    # outside a token endpoint a form field named client_id counts as any other
    other = "https://api.box.com/oauth2/revoke"
    index = ReplayIndex([_interaction(1, "POST", other, form, b"client_id=REC&token=t")])
    assert not isinstance(index.lookup(_shape("POST", other, form, b"client_id=MINE&token=t")), Hit)


def test_the_closest_recording_is_the_one_that_agrees_most():
    uri = "https://api.box.com/2.0/tasks/11446498"
    json_type = [("Content-Type", "application/json")]
    index = ReplayIndex(
        [
            _interaction(1, "PUT", uri, json_type, b'{"action": "complete", "message": "x", "due_at": "2030"}'),
            _interaction(
                2, "PUT", uri, json_type, b'{"action": "review", "message": "Please review", "due_at": "2030"}'
            ),
            _interaction(
                3,
                "PUT",
                "https://api.box.com/2.0/tasks/999",
                json_type,
                b'{"action": "review", "message": "Please review", "due_at": "2031"}',
            ),
        ]
    )
    miss = index.lookup(
        _shape("PUT", uri, json_type, b'{"action": "review", "message": "Please review", "due_at": "2031"}')
    )
    # same path first, then the most body fields alike: #2, not the first recording, nor #3's other task
    assert miss.closest.number == 2, miss.message
    assert miss.differences == ("body.due_at differs: '2031' vs '2030'",)
    # path segments count before the method
    index = ReplayIndex(
        [
            _interaction(1, "GET", "https://api.box.com/2.0/tasks/1/assignments"),
            _interaction(2, "DELETE", "https://api.box.com/2.0/tasks/1"),
        ]
    )
    assert index.lookup(_shape("GET", "https://api.box.com/2.0/tasks/1")).closest.number == 2


def test_a_miss_compares_a_bounded_number_of_the_nearest_recordings(monkeypatch):
    from tapeproxy.core import index, matching

    # 20,000 recordings of one host: a miss used to compare itself with every one of them
    recorded = [_interaction(n, "GET", f"https://api.box.com/2.0/files/{n}") for n in range(1, 20_001)]
    recorded.append(_interaction(20_001, "PUT", "https://api.box.com/2.0/tasks/7"))
    idx = ReplayIndex(recorded)
    compared = []
    real = matching.closeness
    monkeypatch.setattr(matching, "closeness", lambda *a, **k: compared.append(1) or real(*a, **k))
    miss = idx.lookup(_shape("PUT", "https://api.box.com/2.0/tasks/8"))
    assert miss.closest.number == 20_001 and len(compared) == 1  # the same method and API area first
    compared.clear()
    miss = idx.lookup(_shape("GET", "https://api.box.com/2.0/files/nope/content"))
    assert len(compared) <= index.MISS_CANDIDATES and miss.closest.request.uri.startswith(
        "https://api.box.com/2.0/files/"
    )
