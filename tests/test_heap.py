"""runtime/heap.py in-process: what a model's first use loaded is frozen once, and only in a process
that is tapeproxy's own (a test process running it in-process keeps its collector as it was)."""

import gc

from tapeproxy.runtime import heap


def test_settle_once_freezes_once_and_only_in_its_own_process():
    gc.unfreeze()
    kept = [{"a model": [i]} for i in range(1000)]  # built to last, as a loaded model is
    heap.settle_once("test model")  # a test process, not tapeproxy's own: nothing frozen
    assert gc.get_freeze_count() == 0
    try:
        heap.own_process()
        heap.settle_once("test model")
        frozen = gc.get_freeze_count()
        assert frozen >= len(kept)
        later = [{"a request": [i]} for i in range(1000)]  # what serving makes after it
        heap.settle_once("test model")  # already settled: nothing frozen again
        assert gc.get_freeze_count() == frozen and later
    finally:
        heap.own_process(False)
        gc.unfreeze()
