"""`tapeproxy import`: HAR files and mitmproxy flow files into a cassette, redacted as recording is."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mitmproxy import exceptions, http, io

from ..core import cassette, har, writer, yamlfile
from ..core.errors import InputError
from ..core.profiles import api_host
from ..core.recording import Exchange, Recording, entry
from ..core.redact import Redactor
from ..runtime.flowstate import exchange_of, served


@dataclass
class Report:
    imported: int = 0
    redacted: int = 0
    skipped: list[str] = field(default_factory=list)
    other_hosts: Counter = field(default_factory=Counter)
    bodies_missing: int = 0


def _is_har(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _flow_exchanges(path: str, redactor: Redactor) -> tuple[list[tuple[int, Exchange]], list[str]]:
    out, skipped = [], []
    try:
        with open(path, "rb") as f:
            for n, flow in enumerate(io.FlowReader(f).stream(), 1):
                if not isinstance(flow, http.HTTPFlow):
                    skipped.append(f"flow {n}: a {flow.type} flow, not HTTP")
                    continue
                what = f"flow {n} ({flow.request.method} {redactor.scrub_url(flow.request.pretty_url)})"
                if flow.response is None:
                    skipped.append(f"{what}: no response" + (f" ({flow.error.msg})" if flow.error else ""))
                elif flow.websocket is not None:
                    skipped.append(f"{what}: a websocket")
                elif served(flow):
                    skipped.append(f"{what}: answered by tapeproxy, not the service")
                else:
                    out.append((n, exchange_of(flow, flow.request.pretty_url)))
    except exceptions.FlowReadException as e:
        raise InputError(
            f"not a mitmproxy flow file or HAR file: {e}",
            path,
            hint="import reads HAR (JSON) and mitmproxy flow files (mitmdump -w / mitmweb's Save)",
        ) from None
    return out, skipped


def run(
    files: list[str],
    output: str,
    *,
    extra_hosts=(),
    all_hosts=False,
    append=False,
    force=False,
    redactor: Redactor | None = None,
) -> Report:
    redactor = redactor or Redactor()
    out = Path(output)
    old: list[dict] = []
    if out.exists():
        if append:
            data, text = yamlfile.load(out)
            cassette.from_document(data, text, str(out))  # validates, with file:line errors
            old = list(data.get("interactions") or [])
        elif not force:
            raise InputError("the cassette already exists", output, hint="--append adds to it, --force replaces it")
    extra = {h.lower().rstrip(".") for h in extra_hosts}
    recording = Recording(old)
    report = Report()
    for path in files:
        if not Path(path).is_file():
            raise InputError("no such file", path)
        if Path(path).stat().st_size == 0:
            raise InputError("empty file", path, hint="expected a HAR file or a mitmproxy flow file")
        try:
            if _is_har(path):
                loaded = har.load(path, redactor)
                exchanges, skipped = loaded.exchanges, loaded.skipped
                report.bodies_missing += loaded.bodies_missing
            else:
                exchanges, skipped = _flow_exchanges(path, redactor)
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", path) from None
        report.skipped += [f"{path}: {s}" for s in skipped]
        for _, exchange in exchanges:
            host = (urlsplit(exchange.url).hostname or "").lower()
            if not all_hosts and not (api_host(host) or host in extra):
                report.other_hosts[host] += 1
                continue
            recording.add(entry(exchange, redactor))
            report.imported += 1
    report.redacted = redactor.count
    # Written even when nothing was imported: the user asked for this cassette.
    writer.write_atomic(out, recording.entries())
    return report


def summary(report: Report, output: str) -> list[str]:
    lines = [f"tapeproxy import: {report.imported} interaction(s), {report.redacted} value(s) redacted, in {output}"]
    if report.other_hosts:
        top = ", ".join(f"{h} ({n})" for h, n in report.other_hosts.most_common(5))
        lines.append(
            f"  skipped {sum(report.other_hosts.values())} request(s) to hosts tapeproxy does not intercept: "
            f"{top}; add --intercept-host HOST or --all-hosts to keep them"
        )
    if report.bodies_missing:
        lines.append(
            f"  {report.bodies_missing} response body(ies) were not in the file and are empty in the cassette "
            "(Dev Proxy writes them only with includeResponse: true)"
        )
    for reason in report.skipped[:10]:
        lines.append(f"  skipped {reason}")
    if len(report.skipped) > 10:
        lines.append(f"  ... and {len(report.skipped) - 10} more skipped")
    return lines
