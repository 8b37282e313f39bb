"""What explaining one replay miss costs the event loop, with 100,000 recordings of one host.

    python bench/miss_cost.py

A miss names the closest recording; the search looks at the recordings of the request's host and
API area (its method's first), at most 2,000 of them or 20 ms, so one client's misses never stall
the others. Prints the milliseconds per miss for a request in a crowded area and in an empty one.
"""

import time

from tapeproxy.core.cassette import Interaction, RecordedRequest, RecordedResponse
from tapeproxy.core.index import ReplayIndex
from tapeproxy.core.matching import Shape


def recording(n: int, method: str, uri: str) -> Interaction:
    return Interaction(RecordedRequest(method, uri, (), b""), RecordedResponse(200, "OK", (), b""), "bench.yaml", n)


index = ReplayIndex([recording(n, "GET", f"https://api.box.com/2.0/files/{n}") for n in range(100_000)])
for uri in ("https://api.box.com/2.0/files/nope/content", "https://api.box.com/2.0/folders/1"):
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        index.lookup(Shape.from_uri("GET", uri, (), b""))
        runs.append((time.perf_counter() - began) * 1000)
    print(f"miss {uri}: {sorted(runs)[2]:.1f} ms (median of 5)")
