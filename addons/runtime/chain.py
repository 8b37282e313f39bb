"""Run a list of addons as one mitmproxy addon, each hook dispatched only to the addons that have it.

mitmproxy calls every addon in its chain on every hook, with a coroutine and a context manager
each; nested addons (an `addons` attribute) are walked with getattr and hasattr on each of the ~16
hooks a flow triggers. For eleven addons that was a fifth of the time a replayed request took.
A Chain looks up, once, which of its addons implement which hook, and calls just those, in order.
As mitmproxy does per addon, an addon that raises is logged and the next one still runs.
(An AddonHalt ends the hook for the chain's addons only; none of tapeproxy's raises one.)

The addons are not mitmproxy's children (an `addons` attribute would make mitmproxy call each of
them on every hook again), but once loaded each is registered by name with mitmproxy, and its
commands too: `ctx.master.addons.get("tapeproxy_replay")` and `@command.command` work as usual.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from mitmproxy import addonmanager, exceptions, hooks

logger = logging.getLogger(__name__)
# As mitmproxy's safecall: bad options must stop start-up, and a halt ends the hook.
_PROPAGATE = (exceptions.OptionsError, exceptions.AddonHalt)


class Chain:
    def __init__(self, name: str, addons: list) -> None:
        self.name = name
        self.children = {_name_of(a): a for a in addons}
        for hook in hooks.all_hooks:
            methods = [m for a in addons if callable(m := getattr(a, hook, None))]
            if methods:
                setattr(self, hook, _dispatcher(hook, methods))
        load_children, done_children = getattr(self, "load", None), getattr(self, "done", None)

        def load(loader: addonmanager.Loader) -> None:
            if load_children:
                load_children(loader)
            self._register(loader.master)

        def done():
            self._unregister()  # at shutdown, or removed (mitmproxy reloading an edited -s script)
            return done_children() if done_children else None

        self.load, self.done = load, done
        self._master: Any = None

    def _register(self, master) -> None:
        """Each addon by name with mitmproxy (addons.get), and its commands, as mitmproxy does its own."""
        for name in self.children:
            if name in master.addons.lookup:
                raise exceptions.AddonManagerError(f"An addon called '{name}' already exists.")
        for name, addon in self.children.items():
            master.addons.lookup[name] = addon
            master.commands.collect_commands(addon)
        self._master = master

    def _unregister(self) -> None:
        lookup = self._master.addons.lookup if self._master else {}
        for name, addon in self.children.items():
            if lookup.get(name) is addon:
                del lookup[name]

    def get(self, name: str) -> Any:
        """An addon of the chain by its mitmproxy name (e.g. "tapeproxy_replay")."""
        return self.children[name]


def _name_of(addon) -> str:
    return getattr(addon, "name", None) or type(addon).__name__.lower()


def _dispatcher(hook: str, methods: list[Callable]) -> Callable:
    def call(i: int, args: tuple):
        """Run methods[i:]; a coroutine if one of them returns an awaitable, else None."""
        for n in range(i, len(methods)):
            try:
                result = methods[n](*args)
            except _PROPAGATE:
                raise
            except Exception:
                logger.exception(f"tapeproxy: addon error in {methods[n].__qualname__}")
                continue
            if result is not None and inspect.isawaitable(result):
                return finish(result, n, args)
        return None

    async def finish(awaitable, n: int, args: tuple) -> None:
        try:
            await awaitable
        except _PROPAGATE:
            raise
        except Exception:
            logger.exception(f"tapeproxy: addon error in {methods[n].__qualname__}")
        rest = call(n + 1, args)
        if rest is not None:
            await rest

    def dispatch(*args):
        return call(0, args)

    dispatch.__name__ = dispatch.__qualname__ = hook
    return dispatch
