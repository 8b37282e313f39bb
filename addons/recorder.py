"""Record: pass live traffic for intercepted hosts upstream and append it, redacted, to a cassette.

Record modes are vcrpy's: none (replay only), once (record only if the cassette does not exist
yet), new_episodes (replay what exists, record what is missing), all (record everything, replacing
recordings of the same requests). Interactions reach disk within a second, atomically.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Callable, Sequence  # mitmproxy parses --set only for this spelling
from pathlib import Path

from mitmproxy import ctx, exceptions, http

from .core import cassette, digestfiles, limits, matching, redact, writer, yamlfile
from .core.digestfiles import Spool
from .core.errors import InputError
from .core.recording import Recording, entry
from .hosts import Intercept
from .runtime.flowstate import exchange_of, served, state_of
from .runtime.mode import Mode
from .runtime.writerlock import WriterLock

logger = logging.getLogger(__name__)

FLUSH_EVERY = 0.5  # seconds: every completed interaction is on disk within a second


def parse_upstreams(specs: Sequence[str]) -> dict[str, tuple[str, str, int]]:
    """ "HOST=URL" specs as {host: (scheme, host, port)}."""
    from urllib.parse import urlsplit

    out = {}
    for spec in specs:
        host, eq, url = spec.partition("=")
        parts = urlsplit(url)
        if not eq or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"--upstream {spec!r}: expected HOST=URL, e.g. graph.microsoft.com=https://127.0.0.1:9443")
        out[host.lower()] = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    return out


class Recorder:
    name = "tapeproxy_recorder"
    where = "recorder"

    def __init__(self, intercept: Intercept, mode: Mode) -> None:
        self.intercept = intercept
        self.mode = mode  # this addon decides it, in configure
        self.recording = Recording()
        self.upstreams: dict[str, tuple[str, str, int]] = {}
        self.target = ""  # the cassette being written
        self._dirty = False
        self._flusher: asyncio.Task | None = None
        self.saved = 0  # interactions recorded in this session that are on disk
        # never saved: of earlier cassettes before recording moved on, or a body file that could not be written
        self.lost = 0
        self.write_error = ""  # why the last write failed; "" once a write succeeds
        self._pending: list[Callable[[], object]] = []  # body files to write before the YAML naming them
        # The flush loop writes in a worker thread, a stop or a new cassette on the event loop: one
        # write at a time, and one of an older snapshot never lands over a newer one.
        self._write_lock = threading.Lock()
        self._snapshots = 0  # snapshots of the recording taken to be written
        self._written = 0  # the newest of them on disk
        self._lock: WriterLock | None = None  # the cassette's, held while recording to it

    @property
    def live(self) -> bool:
        """Whether requests nothing offline answers go upstream (and are recorded)."""
        return self.mode.live

    @property
    def redactor(self) -> redact.Redactor:
        return self.mode.redactor

    @property
    def recorded(self) -> int:
        return self.recording.added

    def load(self, loader):
        loader.add_option(
            "tapeproxy_record_mode",
            str,
            "none",
            "vcrpy record mode: none (replay only, offline), once, new_episodes, all.",
            choices=["none", "once", "new_episodes", "all"],
        )
        loader.add_option("tapeproxy_record_to", str, "", "Cassette file that recorded interactions go to.")
        loader.add_option(
            "tapeproxy_upstreams",
            Sequence[str],
            [],
            "HOST=URL: send an intercepted host's traffic to another server (staging, local).",
        )
        loader.add_option(
            "tapeproxy_body_files",
            str,
            "",
            "Keep a recorded body over this size (e.g. 1m) in <cassette>.bodies/<sha256>, not in the YAML, "
            "and stream bodies over --max-body/--max-upload-body into such files (a tapeproxy extension).",
        )
        loader.add_option("tapeproxy_redact_headers", Sequence[str], [], "More request/response headers to redact.")
        loader.add_option("tapeproxy_redact_query", Sequence[str], [], "More query parameters to redact.")
        loader.add_option(
            "tapeproxy_redact_json",
            Sequence[str],
            [],
            "JSON paths to redact in bodies, e.g. user.password or items.*.token.",
        )

    def configure(self, updated):
        keys = {
            "tapeproxy_record_mode",
            "tapeproxy_record_to",
            "tapeproxy_upstreams",
            "tapeproxy_redact_headers",
            "tapeproxy_redact_query",
            "tapeproxy_redact_json",
            "tapeproxy_match_on",
            "tapeproxy_match_headers",
            "tapeproxy_body_files",
        }
        if not updated & keys:
            return
        opts = ctx.options
        try:
            self.upstreams = parse_upstreams(opts.tapeproxy_upstreams)
            self.mode.upstream_targets = frozenset((h.lower(), p) for _, h, p in self.upstreams.values())
            match_on = matching.parse_match_on(opts.tapeproxy_match_on)
            match_headers = matching.parse_match_headers(opts.tapeproxy_match_headers)
            over = limits.parse_size(opts.tapeproxy_body_files, "--body-files") if opts.tapeproxy_body_files else 0
        except InputError as e:
            raise exceptions.OptionsError(str(e)) from None
        self.mode.redactor = redact.Redactor(
            opts.tapeproxy_redact_headers, opts.tapeproxy_redact_query, opts.tapeproxy_redact_json
        )
        mode, target = opts.tapeproxy_record_mode, opts.tapeproxy_record_to
        if mode != "none" and not target:
            raise exceptions.OptionsError("tapeproxy_record_mode needs tapeproxy_record_to (the cassette to write)")
        wanted = target if mode != "none" else ""
        lock = self._lock if self._lock is not None and wanted and self._lock.path == Path(wanted).absolute() else None
        if wanted and lock is None:
            lock = WriterLock(wanted, "cassette", cassette.bodies_folder(Path(wanted).absolute()))
            try:
                lock.acquire()  # before anything is written: a second recorder must not overwrite the first's
            except InputError as e:
                raise exceptions.OptionsError(str(e)) from None
        if not self.flush():  # what was recorded so far belongs to the previous cassette
            self.lost += self.unsaved
        if self._lock is not None and self._lock is not lock:
            self._lock.release()
        self._lock = lock
        self.saved, self.write_error = 0, ""
        self.target = wanted
        exists = bool(target) and Path(target).is_file()
        self.mode.live = mode in ("new_episodes", "all") or (mode == "once" and not exists)
        self.mode.replays = mode != "all"
        self.mode.body_files = cassette.bodies_folder(target) if over and self.target else None
        self.mode.body_file_over = over
        old: list[dict] = []
        if exists and self.live:
            try:
                data, text = yamlfile.load(target)
                cassette.from_document(data, text, target)  # validates, with file:line errors
            except InputError as e:
                raise exceptions.OptionsError(str(e)) from None
            old = list(data.get("interactions") or [])
        self.recording = Recording(old, match_on, replace=mode == "all", match_headers=match_headers)

    def running(self):
        # always: recording may be switched on later (pytest plugin, mitmweb's options)
        self._flusher = asyncio.get_running_loop().create_task(self._flush_loop())
        if self.live:
            logger.info(f"tapeproxy: recording ({ctx.options.tapeproxy_record_mode}) to {self.target}")

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """A body streamed for its size (limits.py) goes upstream before the request hook: route it now."""
        if flow.request.stream and self.live and self.intercept.intercepts(flow.request.host):
            state_of(flow).original_url = flow.request.url
            self._route(flow)

    def answer(self, flow: http.HTTPFlow) -> None:
        """The last answerer: while recording, a flow nothing answered goes upstream, to the mapped
        server if there is one (mitmproxy sends it once the request hook is over)."""
        if self.live:
            state_of(flow).original_url = flow.request.url
            self._route(flow)

    def _route(self, flow: http.HTTPFlow) -> None:
        target = self.upstreams.get(flow.request.host.lower())
        if target:
            host_header = flow.request.host_header
            flow.request.scheme, flow.request.host, flow.request.port = target
            flow.request.host_header = host_header  # the server still sees the API's Host

    def record(self, flow: http.HTTPFlow) -> None:
        """A response observer: what went upstream is added to the cassette."""
        state = state_of(flow)
        url, resp, spools = state.original_url, flow.response, state.spools or {}
        folder = self.mode.body_files  # (a spool begun for another cassette does not belong in this one)
        streamed_whole = all(
            not message.stream or (what in spools and spools[what].name and spools[what].folder == folder)
            for what, message in (("request", flow.request), ("response", resp))
            if message is not None
        )
        if url is None or resp is None or served(flow) or not streamed_whole:
            if url is not None and resp is not None and not served(flow):
                self._unwritten(flow, url, spools)
            self.dropped(flow)  # not sent upstream, cut off by a scenario, or streamed unkept (limits.py said so)
            return
        before = self.redactor.count
        try:
            e = entry(exchange_of(flow, url), self.redactor)
            if spools or self.mode.body_file_over:
                self._body_files(e, spools)
        except Exception:  # a broken recording must not break the client's response
            logger.exception(f"tapeproxy: could not record {flow.request.method} {self.redactor.url(url)}")
            self.dropped(flow)
            return
        self.recording.add(e)
        self._dirty = True
        redacted = self.redactor.count - before
        if e.get("tapeproxy", {}).get("body_as_received"):
            logger.warning(
                f"tapeproxy: the response to {e['request']['method']} {e['request']['uri']} does not decode "
                f"as its Content-Encoding ({resp.headers.get('content-encoding')}) says; recorded "
                f"as received (!!binary, header kept), and replayed the same way"
            )
        files = len(e.get("tapeproxy", {}).get("body_files", ()))
        logger.info(
            f"tapeproxy recorded #{self.recording.size} {e['request']['method']} {e['request']['uri']} -> "
            f"{resp.status_code}"
            + (f" ({redacted} value(s) redacted)" if redacted else "")
            + (f" ({files} body file(s))" if files else "")
        )

    def _body_files(self, e: dict, spools: dict[str, Spool]) -> None:
        """Moves the entry's streamed bodies, and those over --body-files, out to body files: the YAML
        keeps a note naming each; the files are written before the YAML that names them."""
        folder, refs, jobs = self.mode.body_files, {}, []
        assert folder is not None
        fields = {"request": (e["request"], "body"), "response": (e["response"]["body"], "string")}
        for what, (holder, key) in fields.items():
            spool = spools.get(what)
            if spool is not None:
                name, size = spool.name, spool.size
                jobs.append(spool.keep)
                if what == "response":  # entry() measured the empty body mitmproxy kept of it
                    for header in e["response"]["headers"]:
                        if header.lower() == "content-length":
                            e["response"]["headers"][header] = [str(size)]
            else:
                body = holder[key] or b""
                data = body.encode("utf-8") if isinstance(body, str) else body
                if len(data) <= self.mode.body_file_over:
                    continue
                name, size = digestfiles.digest(data), len(data)
                jobs.append(functools.partial(digestfiles.write, folder, data, name))
            holder[key] = cassette.body_file_note(name, size)
            refs[what] = {"sha256": name, "size": size}
        if refs:
            e.setdefault("tapeproxy", {})["body_files"] = refs
        self._pending.extend(jobs)  # only now: an entry that failed halfway leaves no job behind

    def _unwritten(self, flow: http.HTTPFlow, url: str, spools: dict[str, Spool]) -> None:
        """A body that was being written to a body file and could not be (a full disk): said, and
        counted as not saved, so the summary and the exit status tell the truth."""
        for what, spool in spools.items():
            if spool.failed:
                self.lost += 1
                self.write_error = spool.failed
                logger.error(
                    f"tapeproxy: could not save {flow.request.method} {self.redactor.url(url)}: its {what} body "
                    f"could not be written to {spool.folder}: {spool.failed}; the client got it whole, the "
                    f"cassette does not have it"
                )
                return

    def dropped(self, flow: http.HTTPFlow) -> None:
        """A flow that is not recorded: the body files it was streaming into go."""
        state = state_of(flow)
        for spool in (state.spools or {}).values():
            spool.discard()
        state.spools = None

    def _snapshot(self) -> tuple[str, list[dict], int, int]:
        """What to write, taken on the event loop: (cassette, entries, interactions, snapshot number)."""
        self._snapshots += 1
        return self.target, self.recording.entries(), self.recorded, self._snapshots

    def _write(self, target: str, entries: list[dict], number: int) -> bool:
        """Body files first (each taken off the list once on disk), then the YAML that names them;
        False, writing nothing, when a newer snapshot is on disk already."""
        with self._write_lock:
            if number < self._written:
                return False
            while self._pending:
                self._pending[0]()
                self._pending.pop(0)
            writer.write_atomic(target, entries)
            self._written = number
            return True

    @property
    def unsaved(self) -> int:
        """Interactions recorded in this session that are not on disk (a write failed)."""
        return self.recorded - self.saved

    async def _flush_loop(self) -> None:
        """Writes what was recorded every FLUSH_EVERY; a failed write is tried again on the next
        round, until it succeeds (a disk that was full may have room again). Never ends early."""
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            if self._dirty and self.target:
                target, entries, added, number = self._snapshot()
                self._dirty = False
                try:
                    written = await asyncio.to_thread(self._write, target, entries, number)
                except Exception as e:
                    self._dirty = True
                    self._failed(e)
                else:
                    if written and target == self.target:
                        self._saved(added)

    def flush(self) -> bool:
        """Everything recorded, on disk now; False (and logged) if the write failed."""
        if self.target and (self._dirty or self.recorded):
            target, entries, added, number = self._snapshot()
            try:
                self._write(target, entries, number)
            except Exception as e:
                self._failed(e)
                return False
            self._dirty = False
            self._saved(added)
        return True

    def _failed(self, e: Exception) -> None:
        why = (
            (e.strerror + (f" ({e.filename})" if e.filename else ""))
            if isinstance(e, OSError) and e.strerror
            else repr(e)
        )
        if why != self.write_error:  # said once per cause; the next round tries again
            logger.error(
                f"tapeproxy: could not save {self.recorded - self.saved} recorded interaction(s) to "
                f"{self.target}: {why}; the file keeps what it had, and saving is tried again every "
                f"{FLUSH_EVERY} s"
            )
        self.write_error = why

    def _saved(self, added: int) -> None:
        if self.write_error:
            logger.warning(f"tapeproxy: saved {added} recorded interaction(s) to {self.target} after all")
        self.write_error = ""
        self.saved = added

    def done(self) -> None:
        if self._flusher:
            self._flusher.cancel()
        self.flush()
        if self._lock is not None:
            self._lock.release()
            self._lock = None
