"""Journal lines written straight to the terminal log's stream, formatted as its handler would.

A line per request is the CLI's default. Through the logging module each line built a LogRecord,
walked the stack for its caller and formatted a timestamp from scratch: most of what the log cost
per request (bench/run.py measures the default log beside --quiet). Lines still go to the same
stream as every other log line, in order, on the event loop's thread.

The lines of one pass of the event loop go out in one write, flushed: print() makes two writes
of each line when the stream is unbuffered (PYTHONUNBUFFERED, common in containers and CI), and
under load many requests end in the same pass. Any other log record flushes the waiting lines
first, so the stream keeps the order things happened in.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time

from mitmproxy.addons.termlog import TermLogHandler
from mitmproxy.contrib import click as miniclick


class TermLines:
    def __init__(self, handler: TermLogHandler, logger: logging.Logger) -> None:
        self.handler = handler
        self.logger = logger  # its level still decides, as for a logged line
        self._second = -1
        self._clock = ""
        self._waiting: list[str] = []
        self._thread = threading.get_ident()  # lines are made on the event loop's thread only
        handler.addFilter(self._before_record)

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
        self._waiting.append(template % (stamp, miniclick.style(text) if colorize else text))
        if len(self._waiting) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no event loop: nothing would flush it later
                self.flush()

    def flush(self) -> None:
        """Write the waiting lines, in one write."""
        if not self._waiting:
            return
        text = "\n".join(self._waiting) + "\n"
        self._waiting.clear()
        try:
            self.handler.file.write(text)
            self.handler.file.flush()
        except OSError:  # as mitmproxy's handler: nowhere to write, stop
            sys.exit(1)

    def _before_record(self, record: logging.LogRecord) -> bool:
        """A filter on the terminal log's handler: our waiting lines go out before its record."""
        if threading.get_ident() == self._thread:  # another thread's record has no order with ours
            self.flush()
        return True
