"""Unit tests of the pure core (no proxy): normalisation, matching, the index, served headers."""

import gzip
import json

import pytest

from tapeproxy.core import matching
from tapeproxy.core.cassette import Interaction, RecordedRequest, RecordedResponse
from tapeproxy.core.errors import InputError
from tapeproxy.core.index import Hit, NoMatch, ReplayIndex
from tapeproxy.core.matching import Body, Shape
from tapeproxy.core.served import served_headers


@pytest.mark.parametrize(
    "raw, normal",
    [
        ("/v1.0//print///tasks", "/v1.0/print/tasks"),
        ("/a%2Db/%7Euser", "/a-b/~user"),
        ("/a b/%20c", "/a%20b/%20c"),
        ("/files/a%2Fb", "/files/a%2Fb"),  # an encoded slash is data, not a separator
        ("/caf%C3%A9", "/caf%C3%A9"),
    ],
)
def test_normalise_path(raw, normal):
    assert matching.normalise_path(raw) == normal


def test_query_is_a_decoded_multiset():
    assert matching.normalise_query("%24top=5&a=1&a=2") == matching.normalise_query("a=2&$top=5&a=1")
    assert matching.normalise_query("a=1&a=1") != matching.normalise_query("a=1")


def test_bodies():
    assert Body.parse(b'{"b": 1, "a": [1, 2]}', "") == Body.parse(b'{ "a":[1,2],"b":1 }', "application/json")
    assert Body.parse(b"x=1&y=2", "application/x-www-form-urlencoded") == Body.parse(
        b"y=2&x=1", "application/x-www-form-urlencoded; charset=utf-8"
    )
    assert Body.parse(b"", "") == Body.parse(b"", "application/json")
    assert Body.parse(b"{not json", "application/json").kind == "bytes"


def test_explain_names_the_json_path_that_differs():
    got = Shape.from_uri(
        "PATCH",
        "https://h/x",
        [("Content-Type", "application/json")],
        b'{"status": {"state": "aborted", "description": "d"}, "extra": 1}',
    )
    want = Shape.from_uri("PATCH", "https://h/x", [], b'{"status": {"state": "completed", "description": "d"}}')
    assert (
        matching.explain(got, want, "body")
        == "body.extra is not in the recording; body.status.state differs: 'aborted' vs 'completed'"
    )


def test_parse_match_on_rejects_unknown_names():
    assert matching.parse_match_on("method, path,path") == ("method", "path")
    with pytest.raises(InputError, match="unknown matcher 'nope'"):
        matching.parse_match_on("method,nope")


def _interaction(n, method, uri, body=b"", status=200):
    return Interaction(
        RecordedRequest(method, uri, (), body), RecordedResponse(status, "OK", (), str(n).encode()), "c.yaml", n
    )


def test_index_sequences_repeat_and_miss():
    index = ReplayIndex(
        [
            _interaction(1, "GET", "https://h/a"),
            _interaction(2, "GET", "https://h/b"),
            _interaction(3, "GET", "https://h/a"),
        ]
    )
    shape = Shape.from_uri("GET", "https://h/a", (), b"")
    served = [index.lookup(shape) for _ in range(3)]
    assert [h.interaction.number for h in served] == [1, 3, 3] and served[2].repeated
    index.reset()
    assert index.lookup(shape).interaction.number == 1
    miss = index.lookup(Shape.from_uri("POST", "https://h/b", (), b""))
    assert isinstance(miss, NoMatch) and miss.closest.number == 2
    assert miss.differences == ("method differs: 'POST' vs 'GET'",)
    strict = ReplayIndex(index.interactions, repeat_last=False)
    assert isinstance(strict.lookup(shape), Hit) and isinstance(strict.lookup(shape), Hit)
    assert "already served" in strict.lookup(shape).message


def test_served_headers_rederive_encoding_and_length():
    def headers(body, hdrs, method="GET", status=200):
        return dict(served_headers(RecordedResponse(status, "", tuple(hdrs), body), method))

    assert headers(b"plain", [("Content-Encoding", "gzip"), ("Content-Length", "99")]) == {"Content-Length": "5"}
    packed = gzip.compress(b"plain")
    assert headers(packed, [("Content-Encoding", "gzip")]) == {
        "Content-Encoding": "gzip",
        "Content-Length": str(len(packed)),
    }
    assert headers(b"", [("Content-Length", "42")], method="HEAD") == {"Content-Length": "42"}
    assert headers(b"", [("Transfer-Encoding", "chunked")], status=204) == {}


def _exchange(
    method="GET",
    url="https://graph.microsoft.com/v1.0/me",
    body=b"",
    headers=(),
    resp_body=b"{}",
    resp_headers=(("Content-Type", "application/json"),),
):
    from tapeproxy.core.recording import Exchange

    return Exchange(method, url, list(headers), body, 200, "OK", list(resp_headers), resp_body)


def test_readable_body_undoes_real_encodings_and_drops_stale_ones():
    from tapeproxy.core.recording import readable_body

    plain = b'{"value": []}'
    real = [("Content-Encoding", "gzip"), ("Content-Length", "99"), ("Transfer-Encoding", "chunked")]
    assert readable_body(real, gzip.compress(plain)) == ([("Content-Length", str(len(plain)))], plain)
    assert readable_body([("Content-Encoding", "gzip")], plain) == ([], plain)  # already decoded (HAR, vcrpy)
    assert readable_body([("Content-Encoding", "x-unknown")], b"\x01\x02") == (
        [("Content-Encoding", "x-unknown")],
        b"\x01\x02",
    )


def test_entry_redacts_and_writes_vcrpy_shapes():
    from tapeproxy.core.recording import entry
    from tapeproxy.core.redact import Redactor

    e = entry(
        _exchange(headers=[("Authorization", "Bearer s3cret")], url="https://h/x?access_token=s3cret&a=1"), Redactor()
    )
    assert e["request"]["body"] is None  # vcrpy's "no body"
    assert e["request"]["headers"] == {"Authorization": ["Bearer REDACTED-authorization-1"]}
    assert e["request"]["uri"] == "https://h/x?access_token=REDACTED-access_token-1&a=1"
    assert e["response"] == {
        "status": {"code": 200, "message": "OK"},
        "headers": {"Content-Type": ["application/json"]},
        "body": {"string": "{}"},
    }
    assert "s3cret" not in repr(e)


def test_recording_all_mode_replaces_old_recordings_of_the_same_request_only():
    from tapeproxy.core.recording import Recording, entry
    from tapeproxy.core.redact import Redactor

    r = Redactor()
    old = [
        entry(_exchange(url=u, resp_body=b), r)
        for u, b in [("https://h/a", b"old-a1"), ("https://h/b", b"old-b"), ("https://h/a", b"old-a2")]
    ]
    rec = Recording(old, replace=True)
    rec.add(entry(_exchange(url="https://h/a", resp_body=b"new-a1"), r))
    rec.add(entry(_exchange(url="https://h/a", resp_body=b"new-a2"), r))  # a sequence of this session: kept
    assert [e["response"]["body"]["string"] for e in rec.entries()] == ["old-b", "new-a1", "new-a2"]
    assert rec.added == 2
    keep = Recording(old, replace=False)
    keep.add(entry(_exchange(url="https://h/a", resp_body=b"new"), r))
    assert len(keep.entries()) == 4


def test_redactor_sweeps_echoed_secrets_and_keeps_other_tools_redactions():
    from tapeproxy.core.recording import entry
    from tapeproxy.core.redact import Redactor

    r = Redactor()
    e = entry(
        _exchange(
            url="https://h/x?access_token=tok-123456789",
            headers=[("Authorization", "Bearer REDACTED")],
            resp_body=b'{"next": "https://h/x?access_token=tok-123456789&page=2"}',
            resp_headers=[("Location", "https://h/y?access_token=tok-123456789")],
        ),
        r,
    )
    assert "tok-123456789" not in repr(e)
    assert e["response"]["headers"]["Location"] == ["https://h/y?access_token=REDACTED-access_token-1"]
    assert e["request"]["headers"]["Authorization"] == ["Bearer REDACTED"]  # already redacted (Dev Proxy)
    # a token request without Content-Type is still a form with secrets in it
    form = r.body(
        "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        "",
        b"grant_type=client_credentials&client_secret=abc%2Bdefgh",
    )
    assert form == b"grant_type=client_credentials&client_secret=REDACTED-client_secret-1"
    assert r.sweep("x abc+defgh abc%2Bdefgh") == "x REDACTED-client_secret-1 REDACTED-client_secret-1"


@pytest.mark.parametrize(
    "value, marker",
    [
        ("REDACTED-authorization-1", True),
        ("REDACTED", True),
        ("[redacted]", True),
        ("***", True),
        ("hidden", False),
        ("xxx", False),
        ("Redacted report", False),
        ("*", False),
        ("", False),
    ],
)
def test_what_counts_as_already_redacted(value, marker):
    from tapeproxy.core.redact import is_placeholder

    assert is_placeholder(value) is marker


def test_the_journal_is_bounded():
    from mitmproxy.test import tflow

    from tapeproxy.hosts import Intercept
    from tapeproxy.journal import Journal

    journal = Journal(Intercept(), maxlen=5)
    for i in range(50):
        flow = tflow.tflow(resp=True)
        flow.request.host = "graph.microsoft.com"
        flow.request.path = f"/v1.0/x/{i}?access_token=secret"
        journal.on_response(flow)
    assert journal.total == 50 and len(journal.entries) == 5
    assert [c.seq for c in journal.since(47)] == [48, 49, 50]
    assert sum(journal.counts.values()) == 50 and "secret" not in journal.entries[-1].url


@pytest.mark.parametrize(
    "uri",
    [
        "https://graph.microsoft.com/v1.0/a?b=1&c=2",
        "HTTPS://API.Box.com:443/2.0/x",
        "http://h:8080",
        "https://h/p#frag",
        "https://h/p?q#f",
        "https://[::1]:8/x",
        "https://user@h/x",
        "https://h/a b",
        "https://h.",
        "https://h?x=1",
        "https://h:0/x",
        "https://h:/x",
        "https://h/x?a=1?b#c",
        "https://h/x?a=%20&b=/c",
    ],
)
def test_the_fast_uri_split_agrees_with_urlsplit(uri):
    from urllib.parse import urlsplit

    fast = Shape.from_uri("GET", uri, (), b"")
    p = urlsplit(uri)
    slow = Shape("GET", p.scheme, p.hostname or "", p.port, p.path, p.query, (), b"")
    assert (fast.scheme, fast.host, fast.port, fast.raw_path, fast.raw_query) == (
        slow.scheme,
        slow.host,
        slow.port,
        slow.raw_path,
        slow.raw_query,
    )


@pytest.mark.parametrize(
    "uri, words",
    [
        ("https://api.box.com:99999/2.0/tasks", "port out of range"),
        ("https://[::1/x", "Invalid IPv6 URL"),
        ("ftp://api.box.com/x", "not an absolute http(s) URL"),
        ("/2.0/tasks", "not an absolute http(s) URL"),
        ("https:///x", "no host"),
    ],
)
def test_a_cassette_uri_that_cannot_be_matched_is_named_with_its_line(tmp_path, uri, words):
    from tapeproxy.core.cassette import load

    path = tmp_path / "c.yaml"
    path.write_text(
        "interactions:\n- request: {method: GET, uri: '" + uri + "'}\n  response: {status: {code: 200}}\nversion: 1\n"
    )
    with pytest.raises(InputError) as e:
        load(path)
    assert words in str(e.value) and e.value.line == 2


def test_one_answer_to_is_this_loopback():
    """The exposure check, the guard and the control API ask the same question the same way
    (issue 16: the exposure check took ::ffff:127.0.0.1 for a remote address)."""
    from tapeproxy.core.addresses import is_loopback, loopback_peer

    for host in ("localhost", "localhost.", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "::ffff:127.0.0.1"):
        assert is_loopback(host), host
        assert loopback_peer((host.strip("[]"), 8080)) or host.startswith("localhost"), host  # peers are addresses
    for host in ("0.0.0.0", "::", "10.1.2.3", "::ffff:10.1.2.3", "example.com", "fe80::1%lo"):
        assert not is_loopback(host) and not loopback_peer((host, 8080)), host


def test_a_built_response_is_the_one_mitmproxy_builds():
    """responses.make_raw skips mitmproxy's per-field type checks (a cost per replayed request); the
    response must stay the one mitmproxy's constructor makes, whatever its version adds."""
    from mitmproxy import http

    from tapeproxy.runtime import responses

    fields = ((b"Content-Type", b"application/json"), (b"Content-Length", b"2"))
    ours = responses.make_raw(201, fields, b"{}")
    theirs = http.Response(b"HTTP/1.1", 201, b"Created", http.Headers(fields), b"{}", None, 0.0, 0.0)
    same_time = {"timestamp_start": 0.0, "timestamp_end": 0.0}
    assert {**ours.get_state(), **same_time} == theirs.get_state()
    assert ours.timestamp_end == ours.timestamp_start > 0
    assert ours.stream is False and ours.trailers is None and ours.text == "{}"


def _multipart(boundary: str, parts: list[tuple[str, str | None, str, bytes]], newline: str = "\r\n") -> bytes:
    out = b""
    for name, filename, ctype, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = (
            f"--{boundary}{newline}Content-Disposition: {disposition}{newline}Content-Type: {ctype}{newline}{newline}"
        )
        out += head.encode() + content + newline.encode()
    return out + f"--{boundary}--{newline}".encode()


def test_multipart_bodies_compare_by_their_parts_not_their_boundary_or_order():
    upload = "https://upload.box.com/api/2.0/files/content"
    pdf = bytes(range(256)) * 3
    attributes = b'{"name": "a.pdf", "parent": {"id": "0"}}'

    def shape(boundary: str, attributes: bytes, content: bytes, file_first=False, headers=()) -> Shape:
        parts = [("attributes", None, "application/json", attributes), ("file", "a.pdf", "application/pdf", content)]
        return Shape.from_uri("POST", upload, list(headers), _multipart(boundary, parts[::-1] if file_first else parts))

    # the recorder filtered the Content-Type: the body's first line gives the boundary
    recorded = shape("rec0rded", attributes, pdf)
    live_type = [("Content-Type", "multipart/form-data; boundary=0a9f3c2e1d")]
    live = shape("0a9f3c2e1d", b'{"parent":{"id":"0"},"name":"a.pdf"}', pdf, file_first=True, headers=live_type)
    assert live.body.kind == recorded.body.kind == "multipart"
    assert live.body == recorded.body
    assert live.body.data()["attributes"] == {"name": "a.pdf", "parent": {"id": "0"}}
    assert live.body.data()["file"]["size"] == len(pdf) and live.body.data()["file"]["filename"] == "a.pdf"

    why = matching.explain(shape("x1", attributes, pdf[:-1] + b"!"), recorded, "body")
    assert why.startswith(f"body part 'file' content differs: {len(pdf)} bytes, sha256 "), why
    why = matching.explain(shape("x2", attributes.replace(b"a.pdf", b"b.pdf"), pdf), recorded, "body")
    assert "body part 'attributes'.name differs: 'b.pdf' vs 'a.pdf'" in why


def test_what_is_not_multipart_whole_stays_bytes():
    for body in (b"--b\r\nno end", b"--b\r\n\r\nx\r\n--b", b"-- b c\r\n"):
        assert Shape.from_uri("POST", "https://api.box.com/2.0/x", [], body).body.kind == "bytes", body


@pytest.mark.parametrize(
    "value, size, span",
    [
        ("bytes=0-0", 10, (0, 0)),
        ("bytes=2-", 10, (2, 9)),
        ("bytes=5-50", 10, (5, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-50", 10, (0, 9)),
        ("bytes=10-", 10, (-1, -1)),
        ("bytes=-0", 10, (-1, -1)),
        ("bytes=0-", 0, (-1, -1)),
        ("bytes=5-2", 10, None),
        ("bytes=-", 10, None),
        ("items=0-1", 10, None),
        ("bytes=0-1,3-4", 10, None),
    ],
)
def test_range_spans(value, size, span):
    from tapeproxy.core import ranges

    assert ranges._span(value, size) == span


def _huge_json(values: int) -> bytes:
    return json.dumps({f"key{i:06d}": i for i in range(values)}).encode()


def test_a_json_body_is_weighed_before_it_is_parsed():
    from tapeproxy.core import jsonbody

    attachment = json.dumps({"name": "a.pdf", "contentBytes": "QUJD" * 900_000}).encode()  # 3.6 MB, 2 values
    assert not jsonbody.too_complex(attachment) and jsonbody.loads(attachment)["name"] == "a.pdf"
    prose = json.dumps({"body": {"content": "A sentence, of mail text as people write it. " * 70_000}})
    prose = prose.encode()  # 3 MB, 70,000 commas
    assert not jsonbody.too_complex(prose)
    assert jsonbody.too_complex(_huge_json(200_000)) and jsonbody.too_complex(json.dumps(list(range(200_000))).encode())
    with pytest.raises(jsonbody.TooComplex, match="about 240,000 values"):
        jsonbody.loads(_huge_json(200_000))
    assert Body.parse(_huge_json(200_000), "application/json").kind == "large-json"
    assert Body.parse(_huge_json(100), "application/json").kind == "json"


def test_a_miss_parses_the_missed_body_once_however_many_recordings_it_is_compared_with(monkeypatch):
    """Issue 27, 2: the closest-recording search parsed the request's body again for every
    candidate and serialised every leaf (1.8 s for one miss with a 3.6 MB body)."""
    recorded = [
        _interaction(n, "POST", "https://graph.microsoft.com/v1.0/users", json.dumps({"n": n, "a": [1, 2]}).encode())
        for n in range(1, 501)
    ]
    index = ReplayIndex(recorded)
    body = _huge_json(2_000)  # parsed as data: within the budget
    parses = []
    real = json.loads
    monkeypatch.setattr(json, "loads", lambda text, *a, **k: parses.append(len(text)) or real(text, *a, **k))
    shape = Shape.from_uri(
        "POST", "https://graph.microsoft.com/v1.0/users", [("Content-Type", "application/json")], body
    )
    miss = index.lookup(shape)
    assert isinstance(miss, NoMatch) and miss.closest is not None
    big = [n for n in parses if n > 10_000]
    assert len(big) <= 3, len(big)  # for its key, its leaves and the explanation; never per recording
    assert isinstance(index.lookup(Shape.from_uri("POST", shape.display().split()[1], shape.headers, body)), NoMatch)
    small = [n for n in parses if n < 10_000]
    assert len(small) <= 500 + 2 * 2, len(small)  # each recording's leaves once, kept; then the explanations


def test_a_body_too_big_to_parse_is_matched_byte_for_byte_and_the_miss_says_so():
    big = _huge_json(200_000)
    index = ReplayIndex([_interaction(1, "POST", "https://api.box.com/2.0/folders", big)])
    ctype = [("Content-Type", "application/json")]
    assert isinstance(index.lookup(Shape.from_uri("POST", "https://api.box.com/2.0/folders", ctype, big)), Hit)
    other = big.replace(b'"key000001": 1', b'"key000001": 2')
    miss = index.lookup(Shape.from_uri("POST", "https://api.box.com/2.0/folders", ctype, other))
    assert isinstance(miss, NoMatch) and "compared byte for byte" in miss.message


def test_multipart_delimiters_are_a_line_break_then_the_boundary_so_the_boundary_mid_line_is_content():
    """Issue 27, 13 (RFC 2046 5.1.1): the parser split on --boundary anywhere."""
    from tapeproxy.core import multipart

    content = b"text that quotes --XyZ mid-line, and ends with a line break\r\n"
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="attributes"\r\n\r\n{}\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\n' + content + b"\r\n"
        b"--XyZ--\r\n"
    )
    fields = multipart.fields(body, "multipart/form-data; boundary=XyZ")
    assert fields == [("attributes", "", b"{}"), ("file", "a.txt", content)]
    lf = body.replace(b"\r\n", b"\n")  # a lenient client's bare line feeds
    assert multipart.fields(lf, "multipart/form-data; boundary=XyZ")[1][2] == content.replace(b"\r\n", b"\n")
    assert multipart.fields(b"preamble--XyZ\r\n\r\nx\r\n--XyZ--", "multipart/form-data; boundary=XyZ") is None


def test_journal_filters_are_checked_once_and_match_as_documented():
    from tapeproxy.core import journal_filter
    from tapeproxy.journal import Call

    def call(seq, method, url, status, source, headers=(), body=b"", at=0.0):
        return Call(seq, method, url, status, source, source, 1, at, headers, body)

    calls = [
        call(1, "GET", "https://api.box.com/2.0/tasks/1?fields=id", 200, "simulation", at=100.0),
        call(2, "POST", "https://graph.microsoft.com/v1.0/me/sendMail", 202, "simulation", ((b"X-Id", b"a"),), b"hi"),
        call(3, "GET", "https://api.box.com/2.0/folders/0", 404, "miss", at=200.0),
    ]

    def ids(**given):
        wanted = journal_filter.parse(given)
        return [c.seq for c in calls if wanted.matches(c)]

    assert ids() == [1, 2, 3]
    assert ids(method="get") == [1, 3] and ids(method=["POST", "GET"]) == [1, 2, 3]
    assert ids(host="*.box.com") == [1, 3] and ids(host="API.box.com") == [1, 3]
    assert ids(path="/2.0/*") == [1, 3] and ids(path="/2.0/tasks/*") == [1]
    assert ids(status="2xx") == [1, 2] and ids(status=404) == [3] and ids(status="202,404") == [2, 3]
    assert ids(source="miss") == [3] and ids(since="1") == [2, 3]
    assert ids(since="1970-01-01T00:02:30Z") == [3]  # 150 s after the epoch: only the one at 200
    assert ids(query={"fields": "i*"}) == [1] and ids(headers={"x-id": "a"}, body="h") == [2]
    for bad, why in [
        ({"verb": "GET"}, r"unknown filter\(s\) verb"),
        ({"status": "teapot"}, "expected a status code"),
        ({"since": "yesterday"}, "expected an entry id"),
        ({"since": "2026-12-02T10:00:00"}, "give the time zone"),
        ({"query": ["a"]}, "expected an object of name: glob"),
    ]:
        with pytest.raises(InputError, match=why):
            journal_filter.parse(bad)
    with pytest.raises(InputError, match="between 1 and"):
        journal_filter.limit_of({"limit": "0"})


def test_vcr_config_maps_to_tapeproxy_settings_as_pytest_recording_merges_it():
    import warnings

    from tapeproxy.frontends import recording_compat

    class Marker:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    config = {"match_on": ["method", "path"], "filter_headers": ["authorization", ("x-key", "X")]}
    # closest marker first, as iter_markers gives them: it wins
    merged = recording_compat.merged(config, [Marker(record_mode="once"), Marker(record_mode="all", x=1)])
    assert (
        merged["record_mode"] == "once"
        and merged["x"] == 1
        and config
        == {
            "match_on": ["method", "path"],
            "filter_headers": ["authorization", ("x-key", "X")],
        }
    )
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        options = recording_compat.knobs_of({**config, "filter_query_parameters": ["access_token"], "nope": 1})
    assert options == {
        "tapeproxy_match_on": ["method", "path"],
        "tapeproxy_redact_headers": ["authorization", "x-key"],
        "tapeproxy_redact_query": ["access_token"],
        "tapeproxy_repeat_last": False,  # vcrpy plays a recording once unless allow_playback_repeats
    }
    assert len(said) == 1 and "vcr_config keys not applied: nope" in str(said[0].message)
    assert recording_compat.knobs_of({"allow_playback_repeats": True})["tapeproxy_repeat_last"] is True


def test_a_live_requests_key_is_remembered_by_its_raw_parts_within_bounds(monkeypatch):
    from tapeproxy.core import index as index_module

    index = ReplayIndex([_interaction(1, "GET", "https://h/a%2Db?x=1&y=2"), _interaction(2, "POST", "https://h/p")])
    normalised = []
    real = matching.normalise_path
    monkeypatch.setattr(matching, "normalise_path", lambda p: normalised.append(p) or real(p))
    same = [Shape.from_uri("GET", "https://h/a-b?y=2&x=1", (), b"") for _ in range(3)]
    assert [index.lookup(s).interaction.number for s in same] == [1, 1, 1]
    assert normalised == ["/a-b"]  # keyed once, then remembered
    # a body's Content-Type is part of what is remembered: JSON and bytes key differently
    json_body = Shape.from_uri("POST", "https://h/p", (("Content-Type", "application/json"),), b"{}")
    assert isinstance(index.lookup(json_body), NoMatch)
    assert isinstance(index.lookup(Shape.from_uri("POST", "https://h/p", (), b"")), Hit)
    monkeypatch.setattr(index_module, "KEY_MEMO", 8)
    for i in range(50):
        index.lookup(Shape.from_uri("GET", f"https://h/other/{i}", (), b""))
    assert len(index._request_keys) <= 8
    big = b"x" * (index_module.KEY_MEMO_BODY + 1)
    index.lookup(Shape.from_uri("POST", "https://h/p", (), big))
    assert all(len(raw[6]) <= index_module.KEY_MEMO_BODY for raw in index._request_keys)
