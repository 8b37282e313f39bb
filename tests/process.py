"""A command in a subprocess, its output collected by a thread, waited on until it says it is ready.

One helper for everything that starts a proxy and waits for its start-up line: the tests'
`tapeproxy` and mitmdump/mitmweb processes, and bench/ (which imports it from here).
"""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time


class ReadyProcess:
    """Starts `command`; returns once a line matches `ready` (a regex), or raises with the output.

    `match` is that line's match; the output keeps being collected (a full pipe would block the process).
    """

    def __init__(self, command: list[str], ready: str, timeout: float = 30, **popen) -> None:
        self.lines: list[str] = []
        self.match: re.Match | None = None
        self._ready = threading.Event()
        self._pattern = re.compile(ready)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(timeout) or self.match is None:
            self.stop()
            raise RuntimeError(f"{command[0]} did not start:\n" + self.output)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if self.match is None and (found := self._pattern.search(line)):
                self.match = found
                self._ready.set()
        self._ready.set()  # it ended without saying so

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 5) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.output:
                return True
            time.sleep(0.05)
        return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        """Its exit status; killed if `sig` does not end it within `timeout`."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
