"""What is built to last (mitmproxy, the cassettes' index, the world, the spec and permissions
models) moved out of the cyclic garbage collector's sight: its full collections walked all of it,
tens of ms at a time, and set the p99 latency and part of the throughput (bench/run.py).

Only in a process that is tapeproxy's own: a test process that runs it in-process (the pytest
plugin) keeps its collector as it was (frozen objects are never collected, nor seen by
gc.get_referrers, which libraries such as Hypothesis rely on)."""

from __future__ import annotations

import gc

_ours = False
_settled: set[str] = set()


def own_process(ours: bool = True) -> None:
    """Say that the process is (or is not) tapeproxy's own."""
    global _ours
    _ours = ours


def settle() -> None:
    """Collect what is garbage now, then freeze the rest: later collections skip it."""
    if _ours:
        gc.collect()
        gc.freeze()


def settle_once(what: str) -> None:
    """settle() the first time `what` (a model loaded on first use) has been loaded."""
    if _ours and what not in _settled:
        _settled.add(what)
        settle()
