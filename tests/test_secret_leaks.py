"""A corpus of realistic secrets through record mode and import: none reaches a cassette, a log
line or a report; the placeholders that replace them still replay."""

import json
import urllib.parse

import requests
from helpers import SECRETS as SERVER_SECRETS
from test_import import har_entry, har_file
from test_record import record

# What clients send. Realistic shapes: JWTs (three base64url parts), a Box developer token (32
# characters), Azure AD and Box client secrets, refresh tokens, session cookies.
CORPUS = {
    "graph app JWT": "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsIng1dCI6Ik1uQ19WWmNB"
    ".eyJhdWQiOiJodHRwczovL2dyYXBoLm1pY3Jvc29mdC5jb20iLCJyb2xlcyI6WyJQcmludCJdfQ.SfLk3m9Qx2w_7Rb",
    "Box developer token": "Xq7pL2mN9vB4cR8tY1wZ6kJ3hF5dS0aE",
    "Azure client secret": "8Q~3kP.vN7yR2_tLm9XwZ4bC6dF1gH5jK0sA",
    "Box client secret": "Tn5vQ2xZ8rM4pL7kJ1wY9cB3dF6hG0sA",
    "Box refresh token": "J7rfmLgsQ1pXJ4yZ2pXzC8vN5bT0wR3eKuYh9aMd6SsVq",
    "Box JWT assertion": "eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9"
    ".eyJpc3MiOiJjbGllbnQiLCJib3hfc3ViX3R5cGUiOiJlbnRlcnByaXNlIn0"
    ".Zk2Pq8rT4uV6wX0yA3bC5dE7fG9hJ1kL",
    "session cookie": "z6Fq1Lk9Pw3Xn7Rv2Tb5Ys8Uc0Hd4Je",
    "query access token": "qAT-5f8e2c1b9d7a4e6f3b0c8d2a7e1f4b9c",
}


def _send_everything(session: requests.Session) -> None:
    g, b = "https://graph.microsoft.com/v1.0", "https://api.box.com"
    session.get(f"{g}/print/taskDefinitions", headers={"Authorization": f"Bearer {CORPUS['graph app JWT']}"})
    session.get(f"{b}/2.0/folders/0", headers={"Authorization": f"Bearer {CORPUS['Box developer token']}"})
    session.post(
        f"{b}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "app",
            "client_secret": CORPUS["Box client secret"],
            "box_subject_type": "enterprise",
            "box_subject_id": "1",
        },
    )
    session.post(
        f"{b}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": CORPUS["Box refresh token"],
            "client_id": "app",
            "client_secret": CORPUS["Box client secret"],
        },
    )
    session.post(
        f"{b}/oauth2/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": CORPUS["Box JWT assertion"],
            "client_id": "app",
            "client_secret": CORPUS["Azure client secret"],
        },
    )
    session.get(f"{g}/me/drive", headers={"Cookie": f"ASP.NET_SessionId={CORPUS['session cookie']}"})
    # echoed back by the stand-in in its JSON body: the sweep must catch it there too
    session.get(f"{g}/reports?access_token={CORPUS['query access token']}")


def _assert_clean(where: str, text: str) -> None:
    for name, secret in {**CORPUS, **SERVER_SECRETS}.items():
        value = secret.split("=")[-1]
        for form in {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}:
            assert form not in text, f"{name} leaked into {where}"


def test_record_mode_keeps_every_secret_out_of_cassette_log_and_reports(start_cli, api, tmp_path):
    path = tmp_path / "secrets.yaml"
    proxy = record(start_cli, api, path, "--report", str(tmp_path / "report.json"))
    session = requests.Session()
    session.trust_env = False
    session.proxies, session.verify = {"https": proxy.url}, proxy.ca
    _send_everything(session)
    assert proxy.stop() == 0
    _assert_clean("the cassette", path.read_text())
    _assert_clean("the log", proxy.output)
    report = (tmp_path / "report.json").read_text()
    assert json.loads(report)["requests"] == 7
    _assert_clean("the JSON report", report)

    # Replayed offline, the placeholders still match the requests that carried any value; a miss
    # carrying a token is listed in the report with the token hidden.
    replay = start_cli("replay", str(path), "--report", str(tmp_path / "report.md"))
    session.proxies = {"https": replay.url}
    _send_everything(session)
    session.get(
        f"https://graph.microsoft.com/v1.0/unrecorded?access_token={CORPUS['query access token']}",
        headers={"Authorization": f"Bearer {CORPUS['graph app JWT']}"},
    )
    assert replay.stop() == 0
    assert "stopped; 1 request(s) missed" in replay.output and "/v1.0/unrecorded?access_token=***" in replay.output
    assert "/v1.0/unrecorded" in (tmp_path / "report.md").read_text()
    _assert_clean("the replay log", replay.output)
    _assert_clean("the Markdown report", (tmp_path / "report.md").read_text())


def test_import_keeps_every_secret_out_of_cassette_and_summary(tmp_path):
    from helpers import run_cli

    g, b = "https://graph.microsoft.com/v1.0", "https://api.box.com"
    form = urllib.parse.urlencode(
        {
            "grant_type": "refresh_token",
            "refresh_token": CORPUS["Box refresh token"],
            "client_secret": CORPUS["Box client secret"],
        }
    )
    har = har_file(
        tmp_path / "session.har",
        [
            har_entry(
                "GET",
                f"{g}/print/taskDefinitions",
                200,
                "{}",
                [("content-type", "application/json")],
                [
                    ("authorization", f"Bearer {CORPUS['graph app JWT']}"),
                    ("cookie", f"ASP.NET_SessionId={CORPUS['session cookie']}"),
                ],
            ),
            har_entry(
                "GET",
                f"{b}/2.0/folders/0?access_token={CORPUS['query access token']}",
                200,
                json.dumps({"echo": CORPUS["query access token"]}),
                [("content-type", "application/json"), ("set-cookie", f"z={CORPUS['session cookie']}")],
                [("authorization", f"Bearer {CORPUS['Box developer token']}")],
            ),
            har_entry(
                "POST",
                f"{b}/oauth2/token",
                200,
                json.dumps(
                    {"access_token": CORPUS["Box developer token"], "refresh_token": CORPUS["Box refresh token"]}
                ),
                [("content-type", "application/json")],
                post={"mimeType": "application/x-www-form-urlencoded", "text": form},
            ),
        ],
    )
    out = run_cli(["import", str(har), "-o", str(tmp_path / "imported.yaml")])
    assert out.returncode == 0, out.stderr
    _assert_clean("the imported cassette", (tmp_path / "imported.yaml").read_text())
    _assert_clean("import's output", out.stdout + out.stderr)
