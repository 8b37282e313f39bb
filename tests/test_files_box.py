"""Box files in `tapeproxy demo`: box-sdk-gen uploads (whole and chunked), downloads through the
dl.boxcloud.com redirect, new versions, tasks on uploaded files, and the errors Box gives."""

import base64
import datetime
import hashlib
import io
import json
import os

import pytest
import requests
from helpers import AUTH, run_cli

UPLOAD = "https://upload.box.com/api/2.0"
CHUNKED_MIN = 20_000_000  # the smallest file Box accepts in chunks


@pytest.fixture
def demo_proxy(start_cli):
    return start_cli("demo")


def box(proxy, monkeypatch):
    """box-sdk-gen as an app builds it: client-credentials sign-in (answered by the demo), default retries."""
    from box_sdk_gen import BoxCCGAuth, BoxClient, CCGConfig
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca)  # box-sdk-gen's requests session reads it
    auth = BoxCCGAuth(CCGConfig(client_id="demo-client-id", client_secret="demo-secret", enterprise_id="818181"))
    return BoxClient(auth).with_proxy(ProxyConfig(url=proxy.url))


def upload(client, name: str, data: bytes):
    from box_sdk_gen.managers.uploads import UploadFileAttributes, UploadFileAttributesParentField

    attributes = UploadFileAttributes(name=name, parent=UploadFileAttributesParentField(id="0"))
    return client.uploads.upload_file(attributes, io.BytesIO(data)).entries[0]


def session(proxy) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # else the machine's REQUESTS_CA_BUNDLE beats s.verify
    s.proxies = {"https": proxy.url}
    s.verify = proxy.ca
    s.headers.update(AUTH)
    return s


def test_upload_download_and_a_task_on_the_uploaded_file(demo_proxy, monkeypatch):
    from box_sdk_gen.managers.tasks import CreateTaskAction, CreateTaskItem

    client = box(demo_proxy, monkeypatch)
    data = os.urandom(4000)
    f = upload(client, "Scan 2026-11.pdf", data)
    assert f.size == 4000 and f.sha_1 == hashlib.sha1(data).hexdigest() and f.parent.id == "0"
    assert client.downloads.download_file(f.id).read() == data
    assert client.downloads.download_file(f.id, range="bytes=100-199").read() == data[100:200]
    info = client.files.get_file_by_id(f.id)
    assert (info.name, info.size, info.file_version.sha_1) == ("Scan 2026-11.pdf", 4000, f.sha_1)
    task = client.tasks.create_task(CreateTaskItem(id=f.id), action=CreateTaskAction.REVIEW, message="Sign it")
    assert task.item.id == f.id and task.item.sha_1 == f.sha_1
    assert [t.id for t in client.tasks.get_file_tasks(f.id).entries] == [task.id]


def test_the_demo_files_download_and_match_their_sha1(demo_proxy, monkeypatch):
    client = box(demo_proxy, monkeypatch)
    info = client.files.get_file_by_id("12345")
    content = client.downloads.download_file("12345").read()
    assert info.name == "Contract.pdf" and content.startswith(b"%PDF")
    assert (info.size, info.sha_1) == (len(content), hashlib.sha1(content).hexdigest())


def test_the_download_is_a_redirect_to_a_host_tapeproxy_serves_with_ranges(demo_proxy):
    s = session(demo_proxy)
    data = bytes(range(256)) * 16
    files = {"attributes": (None, '{"name": "r.bin", "parent": {"id": "0"}}'), "file": ("r.bin", data)}
    f = s.post(f"{UPLOAD}/files/content", files=files).json()["entries"][0]
    r = s.get(f"https://api.box.com/2.0/files/{f['id']}/content", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].startswith("https://dl.boxcloud.com/")
    bare = session(demo_proxy)
    del bare.headers["Authorization"]  # the URL is the credential
    plain = bare.get(r.headers["Location"])
    assert plain.status_code == 200 and plain.content == data
    part = bare.get(r.headers["Location"], headers={"Range": "bytes=-10"})
    assert part.status_code == 206 and part.content == data[-10:]
    assert part.headers["Content-Range"] == f"bytes {len(data) - 10}-{len(data) - 1}/{len(data)}"
    past = bare.get(r.headers["Location"], headers={"Range": "bytes=9999-"})
    assert past.status_code == 416


def test_chunked_upload_of_the_smallest_file_box_takes_in_chunks(demo_proxy, monkeypatch):
    client = box(demo_proxy, monkeypatch)
    data = os.urandom(CHUNKED_MIN)
    f = client.chunked_uploads.upload_big_file(io.BytesIO(data), "video.mp4", len(data), "0")
    assert f.size == len(data) and f.sha_1 == hashlib.sha1(data).hexdigest()
    assert client.downloads.download_file(f.id).read() == data


def test_a_new_version_replaces_the_content_and_bumps_the_etag(demo_proxy, monkeypatch):
    from box_sdk_gen.managers.uploads import UploadFileVersionAttributes

    client = box(demo_proxy, monkeypatch)
    first = upload(client, "notes.txt", b"first")
    second = client.uploads.upload_file_version(
        first.id, UploadFileVersionAttributes(name="notes.txt"), io.BytesIO(b"second draft")
    ).entries[0]
    assert second.id == first.id and int(second.etag) == int(first.etag) + 1
    assert second.file_version.id != first.file_version.id
    assert client.downloads.download_file(first.id).read() == b"second draft"


def error(proxy, method, url, **kwargs) -> tuple[int, str]:
    r = session(proxy).request(method, url, **kwargs)
    body = r.json()
    assert body["type"] == "error" and body["status"] == r.status_code  # Box's envelope
    return r.status_code, body["code"]


def test_uploads_refused_as_box_refuses_them(demo_proxy):
    def attrs(name, parent="0"):
        return {"attributes": (None, json.dumps({"name": name, "parent": {"id": parent}})), "file": ("f", b"x")}

    url = f"{UPLOAD}/files/content"
    assert error(demo_proxy, "POST", url, files=attrs("Contract.pdf", "5000")) == (409, "item_name_in_use")
    assert error(demo_proxy, "POST", url, files=attrs("a/b")) == (400, "item_name_invalid")
    no_parent = {"attributes": (None, '{"name": "x", "parent": {"id": "999"}}'), "file": ("f", b"x")}
    assert error(demo_proxy, "POST", url, files=no_parent)[0] == 404
    new = f"{UPLOAD}/files/upload_sessions"
    small = {"folder_id": "0", "file_size": 1000, "file_name": "small.bin"}
    assert error(demo_proxy, "POST", new, json=small) == (400, "file_size_too_small")
    assert error(demo_proxy, "POST", new, json={"file_size": CHUNKED_MIN, "file_name": "x"}) == (
        400,
        "missing_destination",
    )
    assert error(demo_proxy, "GET", "https://api.box.com/2.0/files/999")[0] == 404
    stale = {"If-Match": "41"}
    assert error(demo_proxy, "DELETE", "https://api.box.com/2.0/files/12345", headers=stale)[0] == 412


def test_chunked_upload_refuses_a_wrong_digest_or_range_and_keeps_the_good_parts(demo_proxy):
    s = session(demo_proxy)
    data = os.urandom(CHUNKED_MIN)
    created = s.post(
        f"{UPLOAD}/files/upload_sessions", json={"folder_id": "0", "file_size": len(data), "file_name": "big.bin"}
    ).json()
    part_size, endpoints = created["part_size"], created["session_endpoints"]
    expires = datetime.datetime.fromisoformat(created["session_expires_at"])
    assert expires > datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)  # not already expired

    def put(first, chunk, digest_of=None):
        digest = base64.b64encode(hashlib.sha1(digest_of or chunk).digest()).decode()
        headers = {"Content-Range": f"bytes {first}-{first + len(chunk) - 1}/{len(data)}", "Digest": f"sha={digest}"}
        return s.put(endpoints["upload_part"], data=chunk, headers=headers)

    wrong = put(0, data[:part_size], digest_of=b"something else")
    assert (wrong.status_code, wrong.json()["code"]) == (412, "digest_mismatch")
    odd = put(5, data[5 : 5 + part_size])
    assert (odd.status_code, odd.json()["code"]) == (416, "range_not_satisfiable")
    parts = []
    for first in range(0, len(data), part_size):
        r = put(first, data[first : first + part_size])
        assert r.status_code == 200, r.text
        parts.append(r.json()["part"])
    listed = s.get(endpoints["list_parts"]).json()
    assert listed["total_count"] == created["total_parts"] == len(parts)
    overlap = put(0, data[1 : part_size + 1])
    assert (overlap.status_code, overlap.json()["code"]) == (409, "range_overlaps_existing_part")
    bad_sha = base64.b64encode(hashlib.sha1(b"not the file").digest()).decode()
    r = s.post(endpoints["commit"], json={"parts": parts}, headers={"Digest": f"sha={bad_sha}"})
    assert (r.status_code, r.json()["code"]) == (400, "digest_mismatch")
    sha = base64.b64encode(hashlib.sha1(data).digest()).decode()
    r = s.post(endpoints["commit"], json={"parts": parts}, headers={"Digest": f"sha={sha}"})
    assert r.status_code == 201 and r.json()["entries"][0]["sha1"] == hashlib.sha1(data).hexdigest()


def test_uploads_survive_a_restart_with_state_and_go_with_reset_world(start_cli, tmp_path, monkeypatch):
    state = tmp_path / "state.yaml"
    proxy = start_cli("demo", "--state", str(state))
    data = os.urandom(3000)
    f = upload(box(proxy, monkeypatch), "kept.bin", data)
    proxy.stop()
    assert (tmp_path / "state.yaml.blobs" / hashlib.sha256(data).hexdigest()).read_bytes() == data
    proxy = start_cli("demo", "--state", str(state))
    client = box(proxy, monkeypatch)
    assert client.downloads.download_file(f.id).read() == data
    done = run_cli(["ctl", "reset-world", "--proxy", proxy.url])
    assert done.returncode == 0, done.stderr
    assert error(proxy, "GET", f"https://api.box.com/2.0/files/{f.id}")[0] == 404


def test_a_world_blob_that_does_not_hold_its_content_is_refused_with_its_line(tmp_path):
    key = hashlib.sha256(b"the contract").hexdigest()
    (tmp_path / "world.yaml.blobs").mkdir()
    (tmp_path / "world.yaml.blobs" / key).write_bytes(b"tampered")
    (tmp_path / "world.yaml").write_text(f"box:\n  files:\n    - id: '1'\n      name: c.pdf\n      blob: {key}\n")
    out = run_cli(["demo", "--world", str(tmp_path / "world.yaml"), "--port", "0", "--confdir", str(tmp_path / "c")])
    assert out.returncode == 2 and "world.yaml:5:" in out.stderr and "SHA-256 differs" in out.stderr, out.stderr


def _chunked(s, data: bytes, name: str):
    created = s.post(
        f"{UPLOAD}/files/upload_sessions", json={"folder_id": "0", "file_size": len(data), "file_name": name}
    )
    assert created.status_code == 201, created.text
    return created.json()


def _part(s, endpoints: dict, first: int, chunk: bytes, total: int):
    digest = base64.b64encode(hashlib.sha1(chunk).digest()).decode()
    headers = {"Content-Range": f"bytes {first}-{first + len(chunk) - 1}/{total}", "Digest": f"sha={digest}"}
    return s.put(endpoints["upload_part"], data=chunk, headers=headers)


def test_a_part_that_is_not_exactly_the_part_size_or_overlaps_gets_416(demo_proxy):
    """Issue 27, 8: a part at offset 0 of twice the part size, overlapping parts or the whole file
    as one part were taken, and the commit made a file of other bytes than those sent."""
    s = session(demo_proxy)
    data = os.urandom(3 * 8 * 1024 * 1024 - 1000)  # three parts, the last one shorter
    created = _chunked(s, data, "parts.bin")
    size, endpoints = created["part_size"], created["session_endpoints"]
    for first, chunk in (
        (0, data[: 2 * size]),  # twice the part size
        (0, data),  # the whole file as one part
        (size // 2, data[size // 2 : size // 2 + size]),  # overlaps the first and the second part
        (2 * size, data[2 * size : -1]),  # the last part, not ending the file
        (size, data[size:]),  # from the second part to the end
    ):
        r = _part(s, endpoints, first, chunk, len(data))
        assert (r.status_code, r.json()["code"]) == (416, "range_not_satisfiable"), (first, len(chunk), r.text)
    parts = [_part(s, endpoints, first, data[first : first + size], len(data)) for first in range(0, len(data), size)]
    assert [r.status_code for r in parts] == [200, 200, 200]
    sha = base64.b64encode(hashlib.sha1(data).digest()).decode()
    done = s.post(
        endpoints["commit"], json={"parts": [r.json()["part"] for r in parts]}, headers={"Digest": f"sha={sha}"}
    )
    assert done.status_code == 201, done.text
    file_id = done.json()["entries"][0]["id"]
    assert s.get(f"https://api.box.com/2.0/files/{file_id}/content").content == data


def test_upload_sessions_keep_to_the_apis_limits_and_a_cap_on_what_they_hold(start_cli):
    """Issue 27, 4: sessions grew memory without bound (60 Box sessions x 8 MiB: +428 MB) and a
    declared size of 10**30 bytes was taken."""
    proxy = start_cli("demo", "--max-upload-sessions", "20m")
    s = session(proxy)
    huge = {"folder_id": "0", "file_size": 10**30, "file_name": "huge.bin"}
    refused = s.post(f"{UPLOAD}/files/upload_sessions", json=huge)
    assert (refused.status_code, refused.json()["code"]) == (403, "file_size_limit_exceeded"), refused.text
    size = 8 * 1024 * 1024
    data = os.urandom(CHUNKED_MIN)
    sessions = [_chunked(s, data, f"held{i}.bin")["session_endpoints"] for i in range(3)]
    assert _part(s, sessions[0], 0, data[:size], len(data)).status_code == 200
    assert _part(s, sessions[1], 0, data[:size], len(data)).status_code == 200
    full = _part(s, sessions[2], 0, data[:size], len(data))  # 24 MiB would pass the 20 MiB cap
    assert full.status_code == 507 and full.json()["type"] == "error", full.text
    assert "--max-upload-sessions" in full.json()["message"]
    graph = "https://graph.microsoft.com/v1.0/me/drive/root:/big.bin:/createUploadSession"
    url = s.post(graph, json={}).json()["uploadUrl"]
    over = s.put(url, data=b"x" * size, headers={"Content-Range": f"bytes 0-{size - 1}/{2 * size}"})
    assert over.status_code == 507 and over.json()["error"]["code"] == "quotaLimitReached", over.text
    assert s.delete(sessions[0]["abort"]).status_code == 204  # room again
    assert _part(s, sessions[2], 0, data[:size], len(data)).status_code == 200
    url = s.post(graph, json={}).json()["uploadUrl"]
    too_big = s.put(url, data=b"x", headers={"Content-Range": f"bytes 0-0/{10**30}"})
    assert too_big.status_code == 400 and too_big.json()["error"]["innerError"]["code"] == "maxFileSizeExceeded"


def test_content_nothing_names_is_freed_and_a_deleted_files_urls_answer_404(start_cli, tmp_path):
    """Issue 27, 5: nine versions of a 30 MB file held 583 MB after the file was deleted, its
    download URL still served it, and any content could be fetched by its SHA-256."""
    state = tmp_path / "state.yaml"
    proxy = start_cli("demo", "--state", str(state))
    s = session(proxy)
    versions = [os.urandom(2000) for _ in range(3)]
    files = {"attributes": (None, json.dumps({"name": "v.bin", "parent": {"id": "0"}})), "file": ("f", versions[0])}
    file_id = s.post(f"{UPLOAD}/files/content", files=files).json()["entries"][0]["id"]
    first_url = s.get(f"https://api.box.com/2.0/files/{file_id}/content", allow_redirects=False).headers["Location"]
    for data in versions[1:]:
        r = s.post(f"{UPLOAD}/files/{file_id}/content", files={"file": ("f", data)})
        assert r.status_code == 200, r.text
    blobs = state.parent / "state.yaml.blobs"
    kept = {p.name for p in blobs.iterdir()}
    assert hashlib.sha256(versions[-1]).hexdigest() in kept
    assert not kept & {hashlib.sha256(v).hexdigest() for v in versions[:-1]}  # replaced versions: gone
    url = s.get(f"https://api.box.com/2.0/files/{file_id}/content", allow_redirects=False).headers["Location"]
    assert s.get(url).content == versions[-1]
    assert s.get(first_url).status_code == 404  # a replaced version's URL
    by_digest = f"https://dl.boxcloud.com/d/1/{hashlib.sha256(versions[-1]).hexdigest()}/download"
    assert s.get(by_digest).status_code == 404
    assert s.delete(f"https://api.box.com/2.0/files/{file_id}").status_code == 204
    assert s.get(url).status_code == 404  # in the trash: not downloaded
    assert s.delete(f"https://api.box.com/2.0/files/{file_id}/trash").status_code == 204  # and for good
    assert hashlib.sha256(versions[-1]).hexdigest() not in {p.name for p in blobs.iterdir()}


def test_an_upload_whose_content_holds_the_boundary_mid_line_is_taken_whole(demo_proxy):
    """Issue 27, 13: content quoting the boundary string mid-line was refused ("must be multipart")."""
    content = b"log line: --tapeproxyBoundary42 appears here\r\nand the rest\r\n"
    attributes = json.dumps({"name": "quoted.txt", "parent": {"id": "0"}}).encode()
    body = (
        b'--tapeproxyBoundary42\r\nContent-Disposition: form-data; name="attributes"\r\n\r\n' + attributes + b"\r\n"
        b'--tapeproxyBoundary42\r\nContent-Disposition: form-data; name="file"; filename="quoted.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + content + b"\r\n--tapeproxyBoundary42--\r\n"
    )
    s = session(demo_proxy)
    r = s.post(
        f"{UPLOAD}/files/content",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=tapeproxyBoundary42"},
    )
    assert r.status_code == 201, r.text
    f = r.json()["entries"][0]
    assert f["size"] == len(content) and f["sha1"] == hashlib.sha1(content).hexdigest()
    assert s.get(f"https://api.box.com/2.0/files/{f['id']}/content").content == content


def test_numbers_of_thousands_of_digits_in_range_headers_are_answered_not_a_500(demo_proxy):
    """Issue 27, 12: Range and Content-Range numbers past Python's 4,300-digit limit were 500s."""
    s = session(demo_proxy)
    huge = "9" * 5000
    url = s.get("https://api.box.com/2.0/files/12345/content", allow_redirects=False).headers["Location"]
    whole = s.get(url).content
    ignored = s.get(url, headers={"Range": f"bytes={huge}-"})
    assert ignored.status_code == 200 and ignored.content == whole  # a Range it cannot read: ignored (RFC 9110)
    created = _chunked(s, os.urandom(CHUNKED_MIN), "digits.bin")
    part = s.put(
        created["session_endpoints"]["upload_part"],
        data=b"x",
        headers={"Content-Range": f"bytes 0-{huge}/{huge}", "Digest": "sha=" + base64.b64encode(b"x" * 20).decode()},
    )
    assert part.status_code == 400 and part.json()["type"] == "error", part.text
    graph = "https://graph.microsoft.com/v1.0/me/drive/root:/digits.bin:/createUploadSession"
    upload = s.post(graph, json={}).json()["uploadUrl"]
    fragment = s.put(upload, data=b"x", headers={"Content-Range": f"bytes 0-0/{huge}"})
    assert fragment.status_code == 400 and fragment.json()["error"]["code"] == "invalidRequest", fragment.text
