"""Run inside a network namespace that has only loopback: `tapeproxy demo` must still serve.

Prints one JSON line with what the clients saw; test_offline.py runs it under `unshare -rn`.
"""

import json
import sys
import tempfile
from pathlib import Path

import requests
from helpers import AUTH, GRAPH_TASK_URL, CliProxy

with tempfile.TemporaryDirectory() as tmp:
    proxy = CliProxy(["demo"], Path(tmp))
    try:
        kw = {"proxies": {"https": proxy.url}, "verify": proxy.ca, "timeout": 10, "headers": AUTH}
        hit = requests.get(GRAPH_TASK_URL, **kw)
        miss = requests.get("https://graph.microsoft.com/beta/me/nothing", **kw)  # beta is not in the spec
        spec = requests.get(GRAPH_TASK_URL + "/nothing", **kw)  # v1.0 is: Graph's own 400
        # the hosts answers hand out: the preflight check's upload host, a usage report's download
        preflight = requests.options(
            "https://api.box.com/2.0/files/content", json={"name": "ns.txt", "parent": {"id": "0"}}, **kw
        ).json()["upload_url"]
        files = {"attributes": (None, json.dumps({"name": "ns.txt", "parent": {"id": "0"}})), "file": ("f", b"x")}
        upload = requests.post(preflight, files=files, **kw)
        report = requests.get("https://graph.microsoft.com/v1.0/reports/getEmailActivityCounts(period='D7')", **kw)
        print(
            json.dumps(
                {
                    "hit": [hit.status_code, hit.json()["id"]],
                    "miss": [miss.status_code, miss.headers.get("X-Tapeproxy-Miss")],
                    "spec": [spec.status_code, spec.headers.get("X-Tapeproxy-Source")],
                    "upload": [preflight.split("/")[2], upload.status_code],
                    "report": [report.url.split("/")[2], report.status_code],
                    "tunnelled": "tunnelling" in proxy.output,
                }
            )
        )
    finally:
        status = proxy.stop()  # an exception above still says what failed
sys.exit(status)
