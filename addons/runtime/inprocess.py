"""A tapeproxy running in a background thread with its own event loop (tests, pytest plugin)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
from collections.abc import Iterable

from mitmproxy.master import Master

from .ca import client_env, ensure_ca
from .master import Ready, make_master


class BackgroundProxy:
    def __init__(self, settings: dict, extra_addons: Iterable = (), set_specs: Iterable[str] = ()):
        self.settings = {"listen_host": "127.0.0.1", "listen_port": 0, **settings}
        self.confdir: str = settings.get("confdir", "")
        self.extra_addons = list(extra_addons)
        self.set_specs = list(set_specs)
        self.master: Master | None = None
        self.addrs: list[tuple[str, int]] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tapeproxy", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.addrs[0]
        return f"http://{host}:{port}"

    @property
    def ca_path(self) -> str:
        return str(ensure_ca(self.confdir))

    @functools.cached_property
    def env(self) -> dict[str, str]:
        """What points clients at this proxy: worked out once (0.9 ms: the bundle is read and
        compared), as the CA does not change while the proxy runs."""
        return client_env(self.url, self.confdir)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # surfaced to the starting thread
            self._error = e
        finally:
            self._ready.set()

    async def _main(self) -> None:
        def ready(bound):
            self.addrs = [addr for _mode, addr in bound]
            self._ready.set()

        self.master = master = make_master(
            self.settings, [*self.extra_addons, Ready(ready)], self.set_specs, termlog=False
        )
        await master.run()

    def start(self, timeout: float = 15) -> BackgroundProxy:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("tapeproxy did not start in time")
        if self._error is not None or not self.addrs:
            raise RuntimeError(f"tapeproxy failed to start: {self._error!r}")
        return self

    def call(self, fn, *args):
        """Run fn on the proxy's event loop (options and addon state belong to that thread); its
        result is returned and its exception raised here."""
        future: concurrent.futures.Future = concurrent.futures.Future()

        def run():
            try:
                future.set_result(fn(*args))
            except BaseException as e:
                future.set_exception(e)

        if self.master is None:
            raise RuntimeError("the proxy is not running")
        self.master.event_loop.call_soon_threadsafe(run)
        return future.result(timeout=30)

    def stop(self) -> None:
        if self.master is not None:
            self.master.shutdown()
        self._thread.join(10)

    def __enter__(self) -> BackgroundProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
