"""Numbers in requests (`$top`, `$skiptoken`, Box's `limit` and `offset`, `Range`, `Content-Range`)
read as the services read them: ASCII digits only, a bounded count of them.

`str.isdigit` takes "²" and "٣", which `int` then refuses, and `int` refuses more than 4,300 digits
(CVE-2020-10735's limit) with a ValueError: either was a 500 where the API answers 400.
"""

from __future__ import annotations

MAX_DIGITS = 64  # far past any size or count an API takes; the caller says what is too big


def count(text: str | None) -> int | None:
    """A non-negative integer written in ASCII digits, or None."""
    if not text or len(text) > MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def integer(text: str | None) -> int | None:
    """An integer, optionally negative, written in ASCII digits, or None."""
    if text and text[0] == "-":
        n = count(text[1:])
        return None if n is None else -n
    return count(text)
