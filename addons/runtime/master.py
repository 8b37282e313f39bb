"""The lean master: only the mitmproxy addons a tapeproxy needs, plus ours.

mitmdump loads ~30 default addons, each called on every hook; a master holding only these serves
HTTPS markedly faster (see bench/). It also avoids DumpMaster's keepserving shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Iterable

from mitmproxy import ctx, options
from mitmproxy.addons import core, errorcheck, next_layer, proxyserver, tlsconfig
from mitmproxy.addons.termlog import TermLog
from mitmproxy.master import Master

from ..assembly import Tapeproxy
from . import heap
from .termlines import TermLines


class LeanMaster(Master):
    termlog: TermLog | None = None  # uninstalled after shutdown, as mitmdump does with its own
    termlines: TermLines | None = None  # the journal's lines, flushed once the master has stopped

    def __init__(self, opts: options.Options) -> None:
        super().__init__(opts)
        # No addon here takes mitmproxy's deprecated add_log event. Its handler would format every
        # log line a second time and wake the event loop to deliver it to no one.
        self._legacy_log_events.uninstall()


def mitmproxy_addons() -> list:
    return [core.Core(), proxyserver.Proxyserver(), next_layer.NextLayer(), tlsconfig.TlsConfig()]


class Ready:
    """Once the proxy listens, calls back with [(mode, (host, port))], one per bound address.

    mode is mitmproxy's ProxyMode ("regular", or reverse with the target URL in .data).
    """

    def __init__(self, callback: Callable[[list], None]) -> None:
        self.callback = callback

    def running(self) -> None:
        servers = ctx.master.addons.get("proxyserver").servers
        self.callback([(server.mode, (addr[0], addr[1])) for server in servers for addr in server.listen_addrs])


def _quiet_cancellations(loop: asyncio.AbstractEventLoop) -> None:
    """Keep a cancelled connection out of the terminal: it is how shutdown ends them, not an error.

    On Python 3.11 asyncio reports each client connection still open at shutdown with a traceback
    (its StreamReaderProtocol callback asks a cancelled task for its exception; fixed in 3.12).
    Master.run installs its own handler and puts this one back when it returns, before the loop's
    remaining tasks are cancelled.
    """

    def handler(loop, context) -> None:
        if not isinstance(context.get("exception"), asyncio.CancelledError):
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _asks_for_proxy_auth(settings: dict, set_specs: Iterable[str]) -> bool:
    """--proxy-auth, or mitmproxy's own `--set proxyauth=...`."""
    return bool(settings.get("proxyauth")) or any(spec.split("=", 1)[0].strip() == "proxyauth" for spec in set_specs)


def make_master(
    settings: dict, extra_addons: Iterable = (), set_specs: Iterable[str] = (), termlog: bool = True
) -> LeanMaster:
    """A configured master; call inside a running event loop. Raises OptionsError on bad settings.

    set_specs are mitmdump-style `option=value` strings, applied after settings.
    """
    set_specs = list(set_specs)
    _quiet_cancellations(asyncio.get_running_loop())
    master = LeanMaster(options.Options())
    master.addons.add(errorcheck.ErrorCheck(repeat_errors_on_stderr=True), *mitmproxy_addons())
    # lazy: the client's TLS handshake completes without contacting the server (offline replay).
    master.options.update(connection_strategy="lazy")
    # The terminal log and the callers' addons join tapeproxy's chain: each addon of its own would be
    # called on every hook of every flow, though these only have load, configure or running.
    extra = list(extra_addons)
    if _asks_for_proxy_auth(settings, set_specs):  # mitmdump has its own; the lean master needs one then
        from mitmproxy.addons.proxyauth import ProxyAuth  # passlib and ldap3: a tenth of start-up otherwise

        extra.insert(0, ProxyAuth())
    json_lines = settings.get("tapeproxy_log_format") == "json"
    if termlog:
        # --log-format json: stdout holds only the JSON objects, the log goes to stderr
        master.termlog = TermLog(sys.stderr if json_lines else None)
        extra.insert(0, master.termlog)
    tapeproxy = Tapeproxy(extra)
    if json_lines:
        tapeproxy.journal.write_line = print_flushed
    elif master.termlog:
        master.termlines = TermLines(master.termlog.logger, tapeproxy.journal.logger)
        tapeproxy.journal.write_line = master.termlines
    master.addons.add(tapeproxy)
    master.options.update(**settings)
    if set_specs:
        master.options.set(*set_specs)
    return master


def print_flushed(line: str) -> None:
    """A line on stdout, at once: a CI step reading it sees each request as it happens."""
    print(line, flush=True)


class FreezeAfterStart:
    """Once serving, what start-up built is frozen (runtime/heap.py)."""

    def running(self) -> None:
        heap.own_process()  # only the CLI's own process serves with this addon
        heap.settle()


def make_web_master(settings: dict, extra_addons: Iterable = (), set_specs: Iterable[str] = ()) -> Master:
    """mitmweb's master (its default addons, its UI and terminal log) with tapeproxy in it: the same
    start-up line, journal and exit summary as the lean master's, and every flow in the UI."""
    from mitmproxy.tools.web.master import WebMaster

    _quiet_cancellations(asyncio.get_running_loop())
    master = WebMaster(options.Options(), with_termlog=True)
    master.options.update(connection_strategy="lazy")
    master.addons.add(Tapeproxy(list(extra_addons)))
    master.options.update(**settings)
    if set_specs:
        master.options.set(*set_specs)
    return master


async def _serve(settings: dict, extra_addons: Iterable, set_specs: Iterable[str], web: bool) -> Master:
    extra = [*extra_addons, FreezeAfterStart()]
    master = make_web_master(settings, extra, set_specs) if web else make_master(settings, extra, set_specs)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, master.shutdown)
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        await master.run()
    finally:
        if termlines := getattr(master, "termlines", None):
            termlines.flush()
        if termlog := getattr(master, "termlog", None):
            termlog.uninstall()  # after done(), as mitmproxy does with its own
    return master


def serve(settings: dict, extra_addons: Iterable = (), set_specs: Iterable[str] = (), web: bool = False) -> Master:
    """Run until Ctrl-C or SIGTERM (in mitmweb's master if web); returns the stopped master."""
    logging.getLogger().setLevel(logging.INFO)
    # Per-connection chatter and mitmproxy's own "listening at" line: the start-up line says it all.
    for noisy in ("hpack", "asyncio", "mitmproxy.proxy.mode_servers", "mitmproxy.proxy.server"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return asyncio.run(_serve(settings, extra_addons, set_specs, web))
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        sys.exit(130)
