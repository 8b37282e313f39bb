"""Big bodies beside the cassette (issue 18, --body-files): recorded through a running proxy from a
local stand-in, stored as <cassette>.bodies/<sha256>, replayed byte for byte, and refused (file:line)
by replay and lint when a file is missing or altered."""

import hashlib
import http.server
import json
import random

import pytest
import requests
import yaml
from helpers import LocalHTTPS, interaction, run_cli, write_cassette
from test_limits import session
from test_record import record as record_via

MIB = 1 << 20
FILE = random.Random(18).randbytes(4000)  # a download under --max-body: kept as a file, not in YAML
BIG = random.Random(19).randbytes(3 * MIB)  # a download over --max-body: streamed into a file
UPLOAD = random.Random(20).randbytes(5 * MIB)  # an upload over --max-body: streamed into a file
BOX = "https://api.box.com/2.0"


class Upstream(http.server.BaseHTTPRequestHandler):
    """Box as far as these tests need: downloads, a 2 MiB JSON answer, an echo of what was sent,
    and a download cut off halfway."""

    protocol_version = "HTTP/1.1"

    def _answer(self, body: bytes, ctype="application/json", length=None):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(length or len(body)))
        self.send_header("ETag", '"1"')
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.endswith("/1/content"):
            return self._answer(FILE, "application/pdf")
        if self.path.endswith("/big/content"):
            return self._answer(BIG, "application/octet-stream")
        if self.path.endswith("/report"):  # JSON is redacted whole: over the limit it is not kept
            return self._answer(json.dumps({"pad": "x" * (2 * MIB)}).encode())
        if self.path.endswith("/cut/content"):  # says 3 MiB, sends 1, hangs up
            self._answer(BIG[:MIB], "application/octet-stream", length=len(BIG))
            self.close_connection = True
            return
        self._answer(json.dumps({"id": "1", "type": "file"}).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(json.dumps({"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}).encode())

    def log_message(self, *args):
        pass


def calls(s: requests.Session) -> list:
    """The same calls when recording and when replaying; each multipart upload gets a new boundary."""
    out = [s.get(f"{BOX}/files/1").json()]
    r = s.get(f"{BOX}/files/1/content")
    out += [r.status_code, r.content == FILE]
    r = s.get(f"{BOX}/files/big/content")
    out += [r.status_code, r.content == BIG]
    r = s.post(
        "https://upload.box.com/api/2.0/files/content",
        files={"attributes": (None, '{"name": "a.bin", "parent": {"id": "0"}}'), "file": ("a.bin", FILE[:3000])},
    )
    out.append(r.json())
    r = s.post(f"{BOX}/files/streamed", data=UPLOAD, headers={"Content-Type": "application/octet-stream"})
    out.append(r.json())
    return out


@pytest.fixture
def upstream(tmp_path):
    server = LocalHTTPS(tmp_path, Upstream)
    yield server
    server.close()


def record(start_cli, upstream, cassette, *extra):
    """test_record's recording proxy, with upload.box.com mapped too and a 1 MiB --max-body."""
    upload = f"upload.box.com=https://127.0.0.1:{upstream.port}"
    return record_via(start_cli, upstream, cassette, "--upstream", upload, "--max-body", "1m", *extra)


def test_big_bodies_are_recorded_as_digest_files_and_replayed_byte_for_byte(start_cli, upstream, tmp_path):
    cassette = tmp_path / "files.yaml"
    proxy = record(start_cli, upstream, cassette, "--body-files", "1k")
    s = session(proxy)
    live = calls(s)
    assert live[1:5] == [200, True, 200, True]
    assert live[6] == {"size": len(UPLOAD), "sha256": hashlib.sha256(UPLOAD).hexdigest()}
    assert len(s.get(f"{BOX}/files/report").content) > 2 * MIB  # streamed to the client all the same
    assert proxy.stop() == 0
    out = proxy.output
    assert "NOT RECORDED GET https://api.box.com/2.0/files/report: the response body (2 MiB)" in out
    assert "text, JSON, forms and compressed bodies are redacted whole" in out

    doc = yaml.safe_load(cassette.read_text())
    uris = [i["request"]["uri"] for i in doc["interactions"]]
    assert uris == [
        f"{BOX}/files/1",
        f"{BOX}/files/1/content",
        f"{BOX}/files/big/content",
        "https://upload.box.com/api/2.0/files/content",
        f"{BOX}/files/streamed",
    ]
    refs = [i.get("tapeproxy", {}).get("body_files") for i in doc["interactions"]]
    assert refs[0] is None  # small bodies stay in the YAML, as vcrpy writes them
    folder = tmp_path / "files.yaml.bodies"
    for ref, body in ((refs[1]["response"], FILE), (refs[2]["response"], BIG), (refs[4]["request"], UPLOAD)):
        assert ref == {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
        assert (folder / ref["sha256"]).read_bytes() == body
    assert set(refs[3]) == {"request"} and refs[3]["request"]["size"] > 3000  # the multipart upload
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        r["sha256"] for ref in refs if ref for r in ref.values()
    )  # nothing else, no partial file
    assert cassette.stat().st_size < 20_000  # not 12 MB of base64
    big = doc["interactions"][2]["response"]
    assert big["headers"]["Content-Length"] == [str(len(BIG))]
    assert "tapeproxy body file" in big["body"]["string"]  # what vcrpy would serve: a note, not silence

    # vcrpy still reads the cassette
    from vcr.cassette import Cassette
    from vcr.persisters.filesystem import FilesystemPersister
    from vcr.serializers import yamlserializer

    requests_, responses_ = FilesystemPersister.load_cassette(str(cassette), yamlserializer)
    assert len(requests_) == len(responses_) == 5 and Cassette  # (imported: the class vcrpy plays from)

    upstream.close()  # replay is offline: the stand-in is gone
    proxy = start_cli("replay", str(cassette), "--max-body", "1m")
    s = session(proxy)
    assert calls(s) == live  # new boundary; the 5 MiB upload gets in to be matched, over --max-body
    r = s.get(f"{BOX}/files/1/content", headers={"Range": "bytes=100-199"})
    assert r.status_code == 206 and r.content == FILE[100:200]
    r = s.post(f"{BOX}/files/streamed", data=UPLOAD[:-1] + b"!", headers={"Content-Type": "application/octet-stream"})
    assert r.headers["X-Tapeproxy-Miss"] == "1" and "size" not in r.json()  # another body: a miss


def test_without_body_files_nothing_changes(start_cli, upstream, tmp_path):
    """The default stays plain vcrpy YAML: bodies inline, and over the limit not recorded."""
    cassette = tmp_path / "plain.yaml"
    proxy = record(start_cli, upstream, cassette)
    calls(session(proxy))
    assert proxy.stop() == 0
    doc = yaml.safe_load(cassette.read_text())
    assert not (tmp_path / "plain.yaml.bodies").exists()
    assert all("body_files" not in i.get("tapeproxy", {}) for i in doc["interactions"])
    assert doc["interactions"][1]["response"]["body"]["string"] == FILE
    assert "2 exchange(s) NOT RECORDED" in proxy.output


def test_a_body_cut_off_midway_leaves_no_file_and_no_recording(start_cli, upstream, tmp_path):
    cassette = tmp_path / "cut.yaml"
    proxy = record(start_cli, upstream, cassette, "--body-files", "1k")
    s = session(proxy)
    with pytest.raises(requests.exceptions.RequestException):
        _ = s.get(f"{BOX}/files/cut/content").content
    assert s.get(f"{BOX}/files/1").status_code == 200
    assert proxy.stop() == 0
    assert [i["request"]["uri"] for i in yaml.safe_load(cassette.read_text())["interactions"]] == [f"{BOX}/files/1"]
    folder = tmp_path / "cut.yaml.bodies"
    assert not folder.exists() or list(folder.iterdir()) == []


def stored(tmp_path, body: bytes, name: str | None = None, size: int | None = None):
    """A cassette whose download names a body file, as --body-files writes it."""
    name = name or hashlib.sha256(body).hexdigest()
    folder = tmp_path / "c.yaml.bodies"
    folder.mkdir(exist_ok=True)
    if len(name) == 64:
        (folder / name).write_bytes(body)
    i = interaction("GET", f"{BOX}/files/1/content", body="a note", headers={"Content-Type": ["application/pdf"]})
    i["tapeproxy"] = {"body_files": {"response": {"sha256": name, "size": len(body) if size is None else size}}}
    return write_cassette(tmp_path / "c.yaml", [i]), folder / name


def test_replay_serves_the_file_not_the_note(start_cli, tmp_path):
    cassette, _ = stored(tmp_path, FILE)
    proxy = start_cli("replay", str(cassette))
    assert session(proxy).get(f"{BOX}/files/1/content").content == FILE
    assert run_cli(["lint", str(cassette)]).returncode == 0


@pytest.mark.parametrize(
    "damage, expected",
    [
        ("altered", "does not hold the content it is named for: its SHA-256 differs"),
        ("missing", "is missing: no file"),
        ("resized", "holds 4000 bytes, not the 4001"),
        ("path", "a SHA-256 in hex (64 characters) was expected, got '../../../etc/passwd'"),
    ],
)
def test_replay_and_lint_refuse_a_body_file_that_is_missing_or_altered(start_cli, tmp_path, damage, expected):
    cassette, file = stored(
        tmp_path,
        FILE,
        name="../../../etc/passwd" if damage == "path" else None,
        size=len(FILE) + 1 if damage == "resized" else None,
    )
    if damage == "altered":
        file.write_bytes(FILE[:-1] + b"!")
    if damage == "missing":
        file.unlink()
    lint = run_cli(["lint", str(cassette)])
    assert lint.returncode == 1 and f"{cassette}:" in lint.stdout and expected in lint.stdout, lint.stdout
    line = lint.stdout.split(f"{cassette}:", 1)[1].split(":", 1)[0]
    assert cassette.read_text().splitlines()[int(line) - 1].strip().startswith("sha256:")  # the name at fault
    assert "Traceback" not in lint.stdout + lint.stderr
    if damage == "altered":  # same size: start-up reads no body, so serving finds it out, and says so
        proxy = start_cli("replay", str(cassette))
        r = session(proxy).get(f"{BOX}/files/1/content")
        assert r.status_code == 500 and r.headers["X-Tapeproxy-Error"] == "replay", r.text
        assert r.json()["type"] == "error" and expected in r.json()["message"] and "c.yaml #1" in r.json()["message"]
        assert proxy.stop() == 0 and "Traceback" not in proxy.output
        return
    replay = run_cli(["replay", str(cassette), "--port", "0"], timeout=30)
    assert replay.returncode == 2 and f"c.yaml:{line}:" in replay.stderr and expected in replay.stderr
    assert "Traceback" not in replay.stderr


def test_a_full_disk_while_a_body_streams_into_its_file_is_told_and_the_client_still_gets_it(tmp_path):
    """In a mount namespace of its own: a 1 MiB tmpfs that a 2 MiB download fills as it is written."""
    from pathlib import Path

    from helpers import on_small_disk

    seen = on_small_disk("diskfull_bodies_probe.py", "1m", tmp_path)
    mnt = Path(seen["mnt"])
    log = seen["output"]
    assert seen["small"] == seen["small_after"] == 200 and seen["big_whole"], log  # the client got it all
    assert seen["said"], log
    assert f"could not be written to {mnt / 'rec.yaml.bodies'}: No space left on device" in log, log
    assert seen["body_files"] == []  # no partial file left behind
    assert seen["recorded"] == [f"{BOX}/small", f"{BOX}/small?again=1"]
    assert seen["exit"] == 1 and "COULD NOT SAVE 1 of 3 recorded interaction(s)" in log, log
    assert "Traceback" not in log


def test_spool_keeps_a_body_under_its_digest_once_and_a_cut_one_not_at_all(tmp_path):
    from tapeproxy.core import digestfiles

    folder = tmp_path / "b"
    names = []
    for _ in range(2):  # the same content twice: one file
        spool = digestfiles.Spool(folder)
        assert [spool(FILE[:1000]), spool(FILE[1000:]), spool(b"")] == [FILE[:1000], FILE[1000:], b""]
        names.append(spool.keep())
        assert spool.keep() == names[0]  # a retried write is harmless
    assert names == [hashlib.sha256(FILE).hexdigest()] * 2 and spool.size == len(FILE)
    assert [p.name for p in folder.iterdir()] == names[:1]
    cut = digestfiles.Spool(folder)
    cut(FILE[:10])
    with pytest.raises(digestfiles.Unusable):
        cut.keep()  # never ended: never kept
    cut.discard()
    assert [p.name for p in folder.iterdir()] == names[:1]


@pytest.mark.parametrize(
    "url, content_type, encoding, stored_as_it_streams",
    [
        (f"{BOX}/files/1/content", "application/octet-stream", "", True),
        ("https://upload.box.com/api/2.0/files/content", "multipart/form-data; boundary=x", "", True),
        (f"{BOX}/files/1/content", "application/pdf", "identity", True),
        (f"{BOX}/files/1/content", "application/octet-stream", "gzip", False),
        (f"{BOX}/files", "application/json; charset=utf-8", "", False),
        (f"{BOX}/files", "application/vnd.api+json", "", False),
        (f"{BOX}/files", "text/csv", "", False),
        (f"{BOX}/files", "", "", False),  # no type: might be JSON
        ("https://api.box.com/oauth2/token", "application/octet-stream", "", False),
    ],
)
def test_only_bodies_redaction_leaves_alone_are_stored_as_they_stream(
    url, content_type, encoding, stored_as_it_streams
):
    from tapeproxy.core.redact import Redactor

    assert Redactor.leaves_alone(url, content_type, encoding) is stored_as_it_streams


def _proxy_peak_mib(proxy) -> float:
    for line in open(f"/proc/{proxy.proc.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_a_150_mb_body_file_is_streamed_to_four_clients_at_once_and_a_range_is_read_from_the_file(start_cli, tmp_path):
    """Issue 27, 6: a 150 MB body file was read whole for every client (peak RSS 598 MB for one,
    2,012 MB for four) and a 10-byte Range read the whole file."""
    import threading

    body = random.Random(27).randbytes(150 * MIB)
    cassette, _ = stored(tmp_path, body)
    proxy = start_cli("replay", str(cassette))
    got: list = []

    def fetch():
        with session(proxy).get(f"{BOX}/files/1/content", stream=True) as r:
            h = hashlib.sha256()
            for chunk in r.iter_content(1 << 20):
                h.update(chunk)
            got.append((r.status_code, r.headers.get("Content-Length"), h.hexdigest()))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert got == [(200, str(len(body)), hashlib.sha256(body).hexdigest())] * 4
    part = session(proxy).get(f"{BOX}/files/1/content", headers={"Range": "bytes=150000000-150000009"})
    assert part.status_code == 206 and part.content == body[150_000_000:150_000_010]
    assert part.headers["Content-Range"] == f"bytes 150000000-150000009/{len(body)}"
    peak = _proxy_peak_mib(proxy)
    assert peak < 200, f"peak RSS {peak:.0f} MiB"
    assert "tunnelling" not in proxy.output  # one file server, the proxy's own, on loopback, for all four
    assert "NOT RECORDED" not in proxy.output  # replay records nothing, and says nothing of it


def test_a_body_file_swapped_for_a_fifo_or_a_sparse_file_is_refused_without_blocking_or_reading(start_cli, tmp_path):
    """Issue 27, 6: a FIFO swapped in after start blocked a worker thread forever (after 8, the
    control API and hot reload hung too); a 1.5 GB sparse file was read whole before being refused."""
    import os

    cassette, file = stored(tmp_path, FILE)
    proxy = start_cli("replay", str(cassette))
    file.unlink()
    os.mkfifo(file)
    for _ in range(10):  # more than the worker threads
        r = session(proxy).get(f"{BOX}/files/1/content", timeout=10)
        assert r.status_code == 500 and "not a regular file" in r.json()["message"], r.text
    control = requests.Session()
    control.trust_env, control.proxies = False, {"http": proxy.url}
    assert control.get("http://tapeproxy/scenarios", timeout=10).status_code == 200
    file.unlink()
    with open(file, "wb") as f:
        f.truncate(1536 * MIB)  # sparse: no disk, and no reading it either
    r = session(proxy).get(f"{BOX}/files/1/content", timeout=10)
    assert r.status_code == 500 and "holds 1610612736 bytes, not the 4000" in r.json()["message"], r.text
    assert _proxy_peak_mib(proxy) < 300
    file.unlink()
    file.write_bytes(FILE)  # put back: served again
    assert session(proxy).get(f"{BOX}/files/1/content", timeout=10).content == FILE


def test_a_request_body_file_named_by_10000_interactions_is_held_once(start_cli, tmp_path):
    """Issue 27, 6: one 50 KB request body file named by 10,000 interactions was held 10,000 times (587 MB)."""
    body = json.dumps({"rows": [{"n": i, "text": "x" * 40} for i in range(900)]}).encode()
    assert len(body) > 45_000
    name = hashlib.sha256(body).hexdigest()
    (tmp_path / "many.yaml.bodies").mkdir()
    (tmp_path / "many.yaml.bodies" / name).write_bytes(body)
    interactions = []
    for n in range(10_000):
        i = interaction(
            "POST",
            f"{BOX}/metadata_queries/execute_read?n={n}",
            body={"n": n},
            req_body="note",
            req_headers={"Content-Type": ["application/json"]},
        )
        i["tapeproxy"] = {"body_files": {"request": {"sha256": name, "size": len(body)}}}
        interactions.append(i)
    cassette = write_cassette(tmp_path / "many.yaml", interactions)
    proxy = start_cli("replay", str(cassette))
    r = session(proxy).post(
        f"{BOX}/metadata_queries/execute_read?n=9999", data=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 200 and r.json() == {"n": 9999}, r.text
    peak = _proxy_peak_mib(proxy)
    assert peak < 250, f"peak RSS {peak:.0f} MiB"


def test_the_body_file_server_answers_requests_one_after_another_on_one_connection(tmp_path):
    """mitmproxy keeps its connection to a server for the next request when the response does not
    say "Connection: close", and replay puts the recorded headers on it: a server that closed after
    each answer left the next request on a connection it had closed. And clients whose first hits
    come at once share one server (two made the guard count the second as tunnelled)."""
    import asyncio
    import os

    from tapeproxy.runtime.fileserver import FileServer

    (tmp_path / "f").write_bytes(b"0123456789")

    async def two_on_one_connection():
        server = FileServer()
        first, second = await asyncio.gather(server.start(), server.start())  # four clients' first hits at once
        assert first == second  # one server: the guard lets exactly that address be
        host, port = first
        paths = [server.offer(os.open(tmp_path / "f", os.O_RDONLY), first, 3) for first in (0, 5)]
        reader, writer = await asyncio.open_connection(host, port)
        got = []
        for path in paths:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200") and b"Connection: close" not in head
            got.append(await reader.readexactly(3))
        writer.close()
        server.close()
        return got

    assert asyncio.run(two_on_one_connection()) == [b"012", b"567"]
