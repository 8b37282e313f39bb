"""Hot reload: the cassettes, scenario files and world file in use are watched; an edit is live
within a second, on the connections already open. A broken edit keeps the last good version
serving, and the log says what is wrong, with file and line.

Files are polled (size and mtime, four times a second): a handful of stat calls, no dependency,
and it works the same on every filesystem, including the bind mounts and network shares where
inotify misses changes. A change is loaded once the files have stayed the same for a whole poll:
an editor that rewrites a file in place, piece by piece, is not served half a file that happens
to parse.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable

from mitmproxy import ctx

from .core.errors import InputError
from .replay import Replay
from .runtime.mode import Mode
from .scenarios import Scenarios
from .simulation import SimulationAddon

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.25


def _stamp(paths: Iterable[str]) -> tuple | None:
    """What the files look like now; None while one is missing (an editor mid-save)."""
    out = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            return None
        out.append((path, st.st_mtime_ns, st.st_size, st.st_ino))
    return tuple(out)


class Reload:
    name = "tapeproxy_reload"

    def __init__(self, mode: Mode, replay: Replay, scenarios: Scenarios, simulation: SimulationAddon) -> None:
        self.mode = mode
        self.replay = replay
        self.scenarios = scenarios
        self.simulation = simulation
        self._seen: dict[str, tuple] = {}
        self._changing: dict[str, tuple] = {}  # a change seen once: loaded if the next poll sees it unchanged
        self._task: asyncio.Task | None = None

    def load(self, loader):
        loader.add_option(
            "tapeproxy_reload", bool, True, "Reload cassettes, scenario files and the world file when they change."
        )

    def running(self):
        # What was just loaded is the baseline: an edit made before the first poll still counts.
        for what, paths, _ in self._watched():
            if (stamp := _stamp(paths)) is not None:
                self._seen[what] = stamp
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def done(self):
        if self._task:
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            if ctx.options.tapeproxy_reload:
                try:
                    await self.check()
                except Exception:  # the watcher must outlive any one failure
                    logger.exception("tapeproxy: reload failed")

    def _watched(self) -> list[tuple[str, list[str], Callable[[], Awaitable[None]]]]:
        world = ctx.options.tapeproxy_world
        # While recording, the recorder itself rewrites the cassette every second: not an edit.
        return [
            ("cassettes", [] if self.mode.live else list(ctx.options.tapeproxy_cassettes), self._reload_cassettes),
            (
                "scenarios",
                [s.path for s in self.scenarios.active() if s.path and os.path.isfile(s.path)],
                self._reload_scenarios,
            ),
            ("world", [world] if world and self.simulation.world is not None else [], self._reload_world),
        ]

    async def check(self) -> None:
        """Reload whatever changed since the last look (the first look only takes note)."""
        for what, paths, reload in self._watched():
            stamp = _stamp(paths)
            if stamp is None:
                continue
            seen = self._seen.get(what)
            # Another set of files (options, the control API) was loaded by whoever changed it.
            if seen is None or seen == stamp or [e[0] for e in seen] != [e[0] for e in stamp]:
                self._seen[what] = stamp
                self._changing.pop(what, None)
                continue
            if self._changing.get(what) != stamp:  # still being written, perhaps: look again next poll
                self._changing[what] = stamp
                continue
            del self._changing[what]
            self._seen[what] = stamp
            changed = ", ".join(os.path.basename(entry[0]) for entry in stamp if entry not in seen)
            try:
                await reload()
            except InputError as e:
                logger.error(f"tapeproxy: {e}; still serving the previous {what}")
            else:
                logger.info(f"tapeproxy: reloaded {what} ({changed})")

    async def _reload_cassettes(self) -> None:
        # Built off the event loop: a big cassette must not stall the connections being served.
        self.replay.use(await asyncio.to_thread(self.replay.build))

    async def _reload_scenarios(self) -> None:
        self.scenarios.reload_files()

    async def _reload_world(self) -> None:
        self.simulation.reset()
