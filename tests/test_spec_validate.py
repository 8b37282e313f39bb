"""replay --validate (issue 19): a request a cassette answers that the real API would refuse is
flagged in the log, on the flow and in the summary, and still gets the cassette's answer."""

import requests
from helpers import interaction, write_cassette

BOX = "https://api.box.com/2.0"
GRAPH = "https://graph.microsoft.com/v1.0"


def recorded(tmp_path):
    """A hand-written cassette answering what Box and Graph would refuse, and one fine call."""
    return write_cassette(
        tmp_path / "lenient.yaml",
        [
            interaction(
                "POST", f"{BOX}/folders", 201, body={"id": "9", "type": "folder"}, req_body='{"name": "Reports"}'
            ),
            interaction("PATCH", f"{GRAPH}/users/u1", 204, req_body='{"favoriteColor": "blue"}'),
            interaction("GET", f"{BOX}/folders/0", body={"id": "0", "type": "folder"}),
        ],
    )


def calls(proxy) -> list[int]:
    s = requests.Session()
    s.trust_env = False
    s.proxies, s.verify = {"https": proxy.url}, proxy.ca
    s.headers["Authorization"] = "Bearer validate"
    return [
        s.post(f"{BOX}/folders", data='{"name": "Reports"}').status_code,
        s.patch(f"{GRAPH}/users/u1", data='{"favoriteColor": "blue"}').status_code,
        s.get(f"{BOX}/folders/0").status_code,
    ]


def test_validate_flags_what_the_api_would_refuse_and_serves_the_cassette_all_the_same(start_cli, tmp_path):
    proxy = start_cli("replay", str(recorded(tmp_path)), "--validate")
    assert calls(proxy) == [201, 204, 200]  # the cassette's answers
    assert proxy.stop() == 0
    out = proxy.output
    assert (
        "INVALID POST https://api.box.com/2.0/folders: the real API would refuse this request "
        "(400 bad_request: 'parent' is required)" in out
    ), out
    assert (
        "INVALID PATCH https://graph.microsoft.com/v1.0/users/u1: the real API would refuse this request "
        "(400 Request_BadRequest: Invalid property 'favoriteColor'.)" in out
    ), out
    assert "INVALID GET" not in out
    assert "2 request(s) a cassette answered that the real API would refuse (--validate)" in out


def test_without_validate_nothing_is_checked(start_cli, tmp_path):
    proxy = start_cli("replay", str(recorded(tmp_path)))
    assert calls(proxy) == [201, 204, 200]
    assert proxy.stop() == 0
    assert "INVALID" not in proxy.output and "would refuse" not in proxy.output
