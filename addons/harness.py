"""The control API as a test harness: the journal as JSON (what a test in any language asks
tapeproxy received), and recording switched on and off while the proxy runs.

Recording writes only where it was allowed to at start-up (tapeproxy_record_dirs, --record-dir),
as the control API reads scenario files only from allowed folders: a caller names a cassette, not
a place on the disk.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Sequence  # mitmproxy parses --set only for this spelling
from pathlib import Path

from mitmproxy import ctx, exceptions

from .core import journal_filter
from .core.errors import InputError
from .core.redact import Redactor
from .journal import Call, Journal
from .recorder import Recorder, parse_upstreams

logger = logging.getLogger(__name__)

RECORD_MODES = ("once", "new_episodes", "all")


def summary_of(c: Call) -> dict:
    if c.source != "miss":
        return c.as_json()
    miss = {"reason": c.reason, "closest": c.closest or None, "differences": list(c.differences)}
    return {**c.as_json(), "miss": miss}


def _body(data: bytes, size: int) -> dict:
    text = data.decode("utf-8", errors="replace")
    return {"text": text, "size": size, "truncated": size > len(data)}


def detail_of(c: Call) -> dict:
    """One request and its answer: headers with their secrets as placeholders, bodies capped
    (journal.BODY_CAP), none kept of a token exchange."""
    redactor = Redactor()
    return {
        **summary_of(c),
        "request": {"headers": redactor.headers(c.request_headers), "body": _body(c.request_body, c.request_size)},
        "response": {"headers": redactor.headers(c.response_headers), "body": _body(c.response_body, c.response_size)}
        if c.status is not None
        else None,
    }


def listed(journal: Journal, given: dict) -> dict:
    wanted = journal_filter.parse(given)
    limit = journal_filter.limit_of(given)
    found = journal.find(wanted)
    return {
        "requests": [summary_of(c) for c in found[-limit:]],
        "matched": len(found),
        "kept": len(journal.entries),
        "total": journal.total,  # over the proxy's life; the oldest fall out past tapeproxy_journal_size
    }


def counted(journal: Journal, matcher: dict) -> dict:
    return {"count": len(journal.find(journal_filter.parse(matcher)))}


class RuntimeRecording:
    """POST, GET and DELETE /recording: the recorder's options, set while the proxy runs."""

    name = "tapeproxy_runtime_recording"

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self._upstreams_before: list[str] = []  # put back when recording stops

    def load(self, loader):
        loader.add_option(
            "tapeproxy_record_dirs",
            Sequence[str],
            [],
            "Folders the control API may record cassettes to (POST /recording).",
        )

    def status(self) -> dict:
        r = self.recorder
        opts = ctx.options
        return {
            "recording": r.live,
            "record_mode": opts.tapeproxy_record_mode,
            "cassette": r.target or None,
            "recorded": r.recorded,
            "saved": r.saved,
            "upstreams": list(opts.tapeproxy_upstreams),
            "write_error": r.write_error or None,
            "record_dirs": list(opts.tapeproxy_record_dirs),
        }

    def start(self, body: dict) -> tuple[int, dict]:
        opts = ctx.options
        if opts.tapeproxy_record_mode != "none":
            return 409, {
                "error": f"already recording ({opts.tapeproxy_record_mode}) to {opts.tapeproxy_record_to}; "
                "DELETE /recording stops it",
                **self.status(),
            }
        mode = body.get("record_mode", "new_episodes")
        if mode not in RECORD_MODES:
            raise InputError(f"record_mode {mode!r}: one of {', '.join(RECORD_MODES)}")
        target = _allowed_cassette(body.get("cassette"), [Path(d) for d in opts.tapeproxy_record_dirs])
        upstream = body.get("upstream")
        if upstream is None:  # the mapping set at start-up (--upstream, --set) stays
            upstream = list(opts.tapeproxy_upstreams)
        if isinstance(upstream, dict):
            specs = [f"{host}={url}" for host, url in upstream.items()]
        elif isinstance(upstream, list) and all(isinstance(u, str) for u in upstream):
            specs = list(upstream)
        else:
            raise InputError('upstream: {"HOST": "URL"} or ["HOST=URL", ...]')
        parse_upstreams(specs)  # an InputError naming the bad one, before anything changes
        cassettes = list(opts.tapeproxy_cassettes)
        if target.is_file() and str(target) not in cassettes:
            cassettes.append(str(target))  # what it holds is replayed while recording adds to it
        self._upstreams_before = list(opts.tapeproxy_upstreams)
        try:
            opts.update(
                tapeproxy_record_mode=mode,
                tapeproxy_record_to=str(target),
                tapeproxy_upstreams=specs,
                tapeproxy_cassettes=cassettes,
            )
        except exceptions.OptionsError as e:
            raise InputError(str(e)) from None
        logger.info(f"tapeproxy: recording ({mode}) to {target}, started over the control API")
        return 200, self.status()

    def stop(self) -> tuple[int, dict]:
        opts = ctx.options
        if opts.tapeproxy_record_mode == "none":
            return 409, {"error": "not recording; POST /recording starts it", **self.status()}
        r = self.recorder
        target = r.target
        flushed = r.flush()
        recorded, saved, redacted, error = r.recorded, r.saved, r.redactor.count, r.write_error
        cassettes = list(opts.tapeproxy_cassettes)
        if flushed and Path(target).is_file() and target not in cassettes:
            cassettes.append(target)  # what was just recorded is replayed from now on
        opts.update(
            tapeproxy_record_mode="none",
            tapeproxy_record_to="",
            tapeproxy_upstreams=self._upstreams_before,
            tapeproxy_cassettes=cassettes,
        )
        logger.info(f"tapeproxy: recording to {target} stopped: {saved} of {recorded} interaction(s) saved")
        answer = {
            "stopped": True,
            "cassette": target,
            "recorded": recorded,
            "saved": saved,
            "redacted": redacted,
            "replaying": target in cassettes,
        }
        if not flushed:
            answer["error"] = f"could not save {recorded - saved} interaction(s): {error or 'see the log'}"
            return 500, answer
        return 200, answer


def _allowed_cassette(given: object, dirs: list[Path]) -> Path:
    """A .yaml file directly or deeper in one of `dirs` (a relative name: in the first), its folder
    existing; never a link or anything but a regular file if it exists."""
    if not dirs:
        raise InputError(
            "recording over the control API is off: no folder may be written to",
            hint="start tapeproxy with --record-dir FOLDER",
        )
    if not isinstance(given, str) or not given:
        raise InputError('POST /recording takes {"cassette": PATH, "record_mode": ..., "upstream": {...}}')
    path = Path(given)
    if not path.is_absolute():
        path = dirs[0] / path
    if path.suffix not in (".yaml", ".yml"):
        raise InputError(f"{given}: a cassette is a .yaml file")
    real_dirs = [d.expanduser().resolve() for d in dirs]
    parent = path.parent.resolve()
    if not any(parent == d or d in parent.parents for d in real_dirs):
        raise InputError(
            f"{given}: not in a folder the control API may record to", hint="--record-dir FOLDER allows one"
        )
    if not parent.is_dir():
        raise InputError(f"{given}: its folder does not exist")
    target = parent / path.name
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return target
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{given}: not a regular file")
    return target
