"""The journal's line per request: written once per pass of the event loop, in order with the other
log lines, and at once whether or not the stream is buffered."""

import asyncio
import gzip
import io
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from helpers import AUTH, GRAPH_TASK_URL
from mitmproxy.addons.termlog import TermLogHandler

from tapeproxy.runtime.termlines import TermLines


class CountingFile(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def _lines(out: CountingFile) -> list[str]:
    return [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]


def test_the_lines_of_one_loop_pass_go_out_in_one_write_after_the_records_before_them():
    out = CountingFile()
    handler = TermLogHandler(out)
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("test_termlines")
    logger.setLevel(logging.INFO)  # the journal's logger decides whether a line is made, as in the CLI
    lines = TermLines(handler, logger)

    async def one_pass() -> int:
        lines("first")
        lines("second")
        lines("third")
        waiting = out.writes  # nothing yet: the loop flushes at the end of this pass
        await asyncio.sleep(0)
        return waiting

    assert asyncio.run(one_pass()) == 0
    assert out.writes == 1 and _lines(out) == ["first", "second", "third"]

    async def with_a_record_between() -> None:
        lines("before the warning")
        handler.handle(logging.LogRecord("x", logging.WARNING, __file__, 1, "a warning", None, None))
        lines("after the warning")
        await asyncio.sleep(0)

    asyncio.run(with_a_record_between())
    assert _lines(out)[3:] == ["before the warning", "a warning", "after the warning"]

    lines("outside any event loop")  # nothing would flush it later: written at once
    assert _lines(out)[-1] == "outside any event loop"


@pytest.mark.parametrize("unbuffered", [True, False], ids=["PYTHONUNBUFFERED=1", "buffered stdout"])
def test_lines_reach_a_pipe_while_the_proxy_runs_whole_and_in_one_piece(start_cli, unbuffered):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proxy = start_cli("demo", env=env)

    def get(i: int) -> int:
        url = f"{GRAPH_TASK_URL}?n={i}"
        return requests.get(url, proxies={"https": proxy.url}, verify=proxy.ca, headers=AUTH, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(get, range(32))) == {200}

    # read while it still runs: a CI log or `| tee` shows each request as it happens
    def served() -> list[str]:
        return [line for line in list(proxy.lines) if f"GET {GRAPH_TASK_URL}?n=" in line]

    deadline = time.monotonic() + 10
    while len(served()) < 32 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(served()) == 32, proxy.output[-2000:]
    assert all(line.startswith("[") and " -> 200 " in line for line in served())
    assert proxy.stop() == 0


def test_request_headers_are_read_once_by_lower_case_name_and_bodies_decoded_as_mitmproxy_would():
    from mitmproxy import http
    from mitmproxy.test import tflow

    from tapeproxy.runtime.flowstate import decoded_body, message_header, request_headers

    flow = tflow.tflow()
    flow.request.headers = http.Headers([(b"X-A", b"1"), (b"x-a", b"2"), (b"Authorization", b"Bearer t")])
    assert request_headers(flow) == {"x-a": "1, 2", "authorization": "Bearer t"}
    assert request_headers(flow) is request_headers(flow)  # made once per flow
    response = http.Response.make(200, b"", {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    response.raw_content = gzip.compress(b'{"a": 1}')
    assert decoded_body(response) == b'{"a": 1}' and message_header(response, b"content-type") == "application/json"
    response.raw_content = b"not gzip"  # cannot be undone: as sent, as get_content(strict=False) gives it
    assert decoded_body(response) == b"not gzip"
