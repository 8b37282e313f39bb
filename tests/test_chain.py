"""The Chain runs tapeproxy's addons as one mitmproxy addon: every hook they have, in order, isolated."""

import asyncio
import logging

import pytest
from mitmproxy import exceptions, hooks

from tapeproxy.assembly import Tapeproxy
from tapeproxy.runtime.chain import Chain


class Recorder:
    def __init__(self, name, log, fail=False, wait=False):
        self.name, self.log, self.fail, self.wait = name, log, fail, wait

    def request(self, flow):
        self.log.append(self.name)
        if self.fail:
            raise RuntimeError(f"{self.name} broke")
        if self.wait:

            async def later():
                await asyncio.sleep(0)
                self.log.append(self.name + " done")

            return later()
        return None


def test_every_hook_any_addon_has_is_dispatched_and_no_other():
    chain = Tapeproxy()
    for hook in hooks.all_hooks:
        has = any(callable(getattr(a, hook, None)) for a in chain.children.values())
        assert callable(getattr(chain, hook, None)) == has, hook
    assert {
        "request",
        "response",
        "error",
        "configure",
        "load",
        "running",
        "done",
        "server_connect",
        "tls_clienthello",
        "tls_start_client",
    } <= {h for h in hooks.all_hooks if hasattr(chain, h)}
    assert chain.get("tapeproxy_replay") is next(a for a in chain.children.values() if a.name == "tapeproxy_replay")


def test_sync_hooks_cost_no_coroutine_and_run_in_order():
    log = []
    chain = Chain("c", [Recorder("a", log), Recorder("b", log)])
    assert chain.request(object()) is None
    assert log == ["a", "b"]


def test_an_awaitable_is_awaited_before_the_next_addon_runs():
    log = []
    chain = Chain("c", [Recorder("a", log, wait=True), Recorder("b", log), Recorder("c", log, wait=True)])
    pending = chain.request(object())
    assert log == ["a"]
    asyncio.run(pending)
    assert log == ["a", "a done", "b", "c", "c done"]


def test_an_addon_that_raises_is_logged_and_the_next_still_runs(caplog):
    log = []
    chain = Chain("c", [Recorder("a", log, fail=True), Recorder("b", log)])
    with caplog.at_level(logging.ERROR):
        chain.request(object())
    assert log == ["a", "b"]
    assert "a broke" in caplog.text and "Recorder.request" in caplog.text


def test_option_errors_still_stop_start_up():
    class Bad:
        def configure(self, updated):
            raise exceptions.OptionsError("bad cassette")

    with pytest.raises(exceptions.OptionsError):
        Chain("c", [Bad()]).configure({"x"})


def test_the_lean_master_hands_log_lines_to_no_deprecated_add_log_listener(tmp_path):
    """mitmproxy's legacy handler formats each line again and wakes the event loop to deliver an
    add_log event that no tapeproxy addon takes: with the log on, that was a cost per request."""
    from mitmproxy.log import LegacyLogEvents

    from tapeproxy.runtime.inprocess import BackgroundProxy

    with BackgroundProxy({"confdir": str(tmp_path)}):
        assert not [h for h in logging.getLogger().handlers if isinstance(h, LegacyLogEvents)]
