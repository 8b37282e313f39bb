"""Journal lines written straight to the terminal log's stream, formatted as its handler would.

A line per request is the CLI's default. Through the logging module each line built a LogRecord,
walked the stack for its caller and formatted a timestamp from scratch: most of what the log cost
per request (bench/run.py measures the default log beside --quiet). Lines still go to the same
stream as every other log line, in order, on the event loop's thread.
"""

from __future__ import annotations

import logging
import sys
import time

from mitmproxy.addons.termlog import TermLogHandler
from mitmproxy.contrib import click as miniclick


class TermLines:
    def __init__(self, handler: TermLogHandler, logger: logging.Logger) -> None:
        self.handler = handler
        self.logger = logger  # its level still decides, as for a logged line
        self._second = -1
        self._clock = ""

    def __call__(self, text: str) -> None:
        handler = self.handler
        if handler.level > logging.INFO or not self.logger.isEnabledFor(logging.INFO):  # termlog_verbosity
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second, self._clock = second, time.strftime("%H:%M:%S", time.localtime(now))
        stamp = f"{self._clock}.{int((now - second) * 1000):03d}"  # MitmFormatter's "%H:%M:%S.mmm"
        formatter = handler.formatter
        colorize = getattr(formatter, "colorize", False)
        template = getattr(formatter, "without_client", "[%s] %s")
        try:
            print(template % (stamp, miniclick.style(text) if colorize else text), file=handler.file)
        except OSError:  # as mitmproxy's handler: nowhere to write, stop
            sys.exit(1)
