"""pytest plugin (loaded with -p netlog_plugin; the suite itself is untouched): logs every HTTP
request the tests make through requests, tagged with the running test's node id and phase, to
$NETLOG_FILE as JSON lines. A test with at least one entry reached the network (the proxy)."""

import json
import os
import threading
import time

import pytest
import requests

_current = {"nodeid": "<collect>", "phase": "collect"}
_lock = threading.Lock()
_path = os.environ.get("NETLOG_FILE")
_fh = open(_path, "a", buffering=1) if _path else None
_orig_send = requests.Session.send


def _snip(data, n):
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data[:n]).decode("utf-8", "replace")
    elif not isinstance(data, str):
        return f"<{type(data).__name__}>"
    return data[:n]


def _send(self, request, **kwargs):
    entry = {
        "test": _current["nodeid"],
        "phase": _current["phase"],
        "t": round(time.time(), 3),
        "method": request.method,
        "url": request.url,
        "req": _snip(request.body, 400),
    }
    try:
        resp = _orig_send(self, request, **kwargs)
    except Exception as exc:
        entry["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        _write(entry)
        raise
    entry["status"] = resp.status_code
    entry["source"] = resp.headers.get("X-Tapeproxy-Source")
    ctype = resp.headers.get("Content-Type", "")
    if "json" in ctype or "text" in ctype:
        try:
            entry["resp"] = _snip(resp.content, 600)  # cached: the SDK's iter_content reads it again
        except Exception as exc:  # noqa: BLE001
            entry["resp"] = f"<unreadable: {exc}>"
    else:
        entry["resp"] = f"<{ctype or 'no content-type'}>"
    _write(entry)
    return resp


def _write(entry):
    if _fh:
        with _lock:
            _fh.write(json.dumps(entry) + "\n")


requests.Session.send = _send


def _phase(item, phase):
    _current["nodeid"], _current["phase"] = item.nodeid, phase


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    _phase(item, "setup")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    _phase(item, "call")
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    _phase(item, "teardown")
    yield
    _current["nodeid"], _current["phase"] = "<between>", "none"
