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
        print(
            json.dumps(
                {
                    "hit": [hit.status_code, hit.json()["id"]],
                    "miss": [miss.status_code, miss.headers.get("X-Tapeproxy-Miss")],
                    "spec": [spec.status_code, spec.headers.get("X-Tapeproxy-Source")],
                }
            )
        )
    finally:
        sys.exit(proxy.stop())
