"""Inside a network namespace with only loopback: record from a local stand-in, then replay with it gone.

Prints one JSON line; test_offline.py runs it under `unshare -rn` and compares the two halves.
Arguments are passed to `tapeproxy record` (e.g. --body-files 200).
"""

import json
import sys
import tempfile
from pathlib import Path

from helpers import SECRETS, CliProxy, FakeApi, LocalHTTPS
from test_record import client, session_calls

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


def upload(s, attributes: str) -> list:
    files = {"attributes": (None, attributes, "application/json"), "file": ("scan.pdf", PDF, "application/pdf")}
    r = s.post("https://upload.box.com/api/2.0/files/content", files=files)
    return [r.status_code, r.headers.get("X-Tapeproxy-Miss"), r.json()["echo"]]  # the recorded upload, echoed


with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    api = LocalHTTPS(tmp, FakeApi)
    local = f"https://127.0.0.1:{api.port}"
    recorder = CliProxy(
        [
            "record",
            "--cassette",
            str(tmp / "ns.yaml"),
            "--upstream",
            f"graph.microsoft.com={local}",
            "--upstream",
            f"api.box.com={local}",
            "--upstream",
            f"upload.box.com={local}",
            "--upstream-ca",
            str(api.cert),
            *sys.argv[1:],
        ],
        tmp,
    )
    recorded = session_calls(client(recorder))
    # requests picks a new random boundary for every upload; the replay also reorders the JSON
    recorded.append(upload(client(recorder), '{"name": "scan.pdf", "parent": {"id": "0"}}'))
    code = recorder.stop()
    api.close()  # nothing to reach any more: the replay can only be offline

    replay = CliProxy(["replay", str(tmp / "ns.yaml")], tmp)
    replayed = session_calls(client(replay))
    replayed.append(upload(client(replay), '{"parent": {"id": "0"}, "name": "scan.pdf"}'))
    code = code or replay.stop()
    text = (tmp / "ns.yaml").read_text()
    bodies = tmp / "ns.yaml.bodies"
    files = sorted(bodies.iterdir()) if bodies.exists() else []
    text += "".join(f.read_bytes().decode("utf-8", "replace") for f in files)  # secrets are checked there too

    def plain(values):
        return [v.hex() if isinstance(v, bytes) else v for v in values]

    print(
        json.dumps(
            {
                "recorded": plain(recorded),
                "replayed": plain(replayed),
                "leaked": [name for name, s in SECRETS.items() if s.split("=")[-1] in text],
                "body_files": len(files),
            }
        )
    )
    sys.exit(code)
