"""JSON request bodies, read within a budget.

Python's JSON reader holds the interpreter lock for the whole parse, so a body of a few megabytes
made of hundreds of thousands of tiny values (0.25 s to parse here) would stall every client,
whichever thread parsed it. A body is therefore weighed before it is parsed: by its string
delimiters and its commas, counted at memory speed. One estimated at more than MAX_VALUES values
is not parsed at all: matching compares it byte for byte, and what answers it as an API would
(the simulation, spec answers, $batch) refuses it with the API's 413. The API calls apps make
carry far fewer values; a large attachment or text is a few long strings, and costs little.
"""

from __future__ import annotations

import json
from typing import Any

MAX_VALUES = 25_000  # about 30 ms of parsing on this 2-core machine (bench/attacks.py big-miss)


class TooComplex(Exception):
    """A body estimated at more values than MAX_VALUES: not parsed."""

    def __init__(self, values: int) -> None:
        shown = round(values, 2 - len(str(values)))  # an estimate: two significant digits
        super().__init__(
            f"the JSON body holds about {shown:,} values; tapeproxy reads at most {MAX_VALUES:,} "
            "(parsing more would stall every other client)"
        )
        self.values = values


def estimated_values(raw: bytes) -> int:
    """Roughly what a JSON text costs to parse, in values: its strings (every object key is one)
    plus a fifth of its commas (a number in an array costs a fifth of a key and its value; prose
    inside strings has commas too)."""
    strings = (raw.count(b'"') - raw.count(b'\\"')) // 2
    return strings + raw.count(b",") // 5


def too_complex(raw: bytes) -> bool:
    return len(raw) > MAX_VALUES and estimated_values(raw) > MAX_VALUES


def loads(raw: bytes | str) -> Any:
    """json.loads, or TooComplex for a body over the budget (ValueError and RecursionError as json)."""
    data = raw.encode() if isinstance(raw, str) else raw
    if too_complex(data):
        raise TooComplex(estimated_values(data))
    return json.loads(raw)
