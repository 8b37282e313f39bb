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
    def attrs(name):
        return {"attributes": (None, json.dumps({"name": name, "parent": {"id": "0"}})), "file": ("f", b"x")}

    url = f"{UPLOAD}/files/content"
    assert error(demo_proxy, "POST", url, files=attrs("Contract.pdf")) == (409, "item_name_in_use")
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
