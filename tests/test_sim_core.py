"""The simulated world's pure pieces, in-process: a request in, a reply out (the end-to-end tests
through a running proxy are test_simulation.py, test_files_*.py)."""

import json

from tapeproxy.sim.drive_items import DriveItems
from tapeproxy.sim.store import Store


def test_drive_items_walk_a_deep_tree_in_loops_and_find_children_by_name_ignoring_case():
    items = DriveItems(Store())
    items.add({"id": "root", "name": "root", "folder": True})
    parent = "root"
    for i in range(5000):  # far deeper than Python's recursion limit
        items.add({"id": f"d{i}", "name": "Dir", "parent": parent, "folder": True})
        parent = f"d{i}"
    items.add({"id": "f", "name": "Notes.TXT", "parent": parent})
    assert items.child(parent, "notes.txt") == "f" and items.child(parent, "other") is None
    assert len(items.names_to("f")) == 5001 and items.child_count("d4999") == 1
    assert sum(1 for _ in items.descendants("root")) == 5001
    gone = items.remove("d0")
    assert len(gone) == 5001 and set(items) == {"root"} and items.children("root") == []


def _world():
    from tapeproxy.sim.world import World

    return World()


def test_expired_upload_sessions_are_freed_before_the_cap_refuses_new_bytes():
    import pytest

    from tapeproxy.sim import upload_session
    from tapeproxy.sim.http import ApiError

    world = _world()
    world.max_session_bytes = 100
    now = 1_000_000.0
    sid, _ = upload_session.create(world, "https://up/?guid=", now=now, kind="drive")
    world.graph_sessions[sid]["chunks"][0] = b"x" * 80
    upload_session.admit(world, 20, now=now)  # exactly the cap
    with pytest.raises(ApiError) as refused:
        upload_session.admit(world, 21, now=now)
    assert refused.value.name == "insufficient_storage" and "--max-upload-sessions" in str(refused.value.message)
    later = now + upload_session.LIFETIME.total_seconds() + 1
    upload_session.admit(world, 100, now=later)  # the expired session made room
    assert sid not in world.graph_sessions and upload_session.held(world) == 0


def test_heavy_uploads_are_answered_by_work_for_a_worker_thread_and_hash_outside_the_lock(monkeypatch):
    """Issue 27, 3: hashing and joining uploads ran on the event loop (a 60 MB upload stalled every
    client 0.3-0.8 s); the simulation hands them back as Later work, which takes the lock only to
    read and change the world."""
    from tapeproxy.sim import blobs
    from tapeproxy.sim.http import Later, SimRequest
    from tapeproxy.sim.router import Simulation
    from tapeproxy.sim.world import World
    from tapeproxy.simulation import DEFAULT_WORLD

    world = World.load(DEFAULT_WORLD)
    sim = Simulation(world)
    headers = [("Authorization", "Bearer x")]
    put = SimRequest.make("PUT", "graph.microsoft.com", "/v1.0/me/drive/root:/a.bin:/content", headers, b"x" * 5000)
    answer = sim.handle(put)
    assert isinstance(answer, Later) and world.version == 0  # nothing done yet
    hashed_with_the_lock = []
    real = blobs.Digests.of
    monkeypatch.setattr(
        blobs.Digests, "of", lambda content: hashed_with_the_lock.append(world.lock._is_owned()) or real(content)
    )
    reply = answer.work()
    assert reply.status == 201 and hashed_with_the_lock == [False] and world.version == 1


def test_a_burst_of_changes_is_saved_in_a_few_coalesced_saves_and_each_waits_for_its_own(tmp_path, monkeypatch):
    """Issue 27, 3: with --state every change rewrote and fsynced the whole world on the event loop."""
    import asyncio

    from tapeproxy.runtime.state import StateFile
    from tapeproxy.sim.world import Snapshot, World

    (tmp_path / "w.yaml").write_text("graph: {}\n")
    world = World.load(tmp_path / "w.yaml")
    state = StateFile(tmp_path / "s.yaml")
    state.open()
    writes = []
    real = Snapshot.write
    monkeypatch.setattr(Snapshot, "write", lambda self, *a: writes.append(self.version) or real(self, *a))

    async def one_change(i):
        with world.lock:
            world.graph_me = f"user {i}"  # in the state file's YAML (the store's records are in its database)
            world.changed()
        await state.durable(world)
        assert state.is_saved(world, world.version if i == 49 else 0)

    async def burst():
        await asyncio.gather(*(one_change(i) for i in range(50)))

    asyncio.run(burst())
    state.close()
    assert world.version == 50 and writes[-1] == 50 and len(writes) <= 3, writes
    assert "user 49" in (tmp_path / "s.yaml").read_text()


def test_a_state_file_is_json_where_the_world_is_plain_data_and_yaml_where_it_is_not(tmp_path):
    """JSON, which is YAML too, is written ten times faster (issue 27, 3: every change saved the
    whole world); a world holding what JSON cannot (a YAML timestamp) is still saved, as YAML."""
    import datetime
    import json

    from tapeproxy.core import writer, yamlfile

    plain, dated = tmp_path / "plain.yaml", tmp_path / "dated.yaml"
    writer.write_data_atomic(plain, {"box": {"tasks": [{"id": "1", "message": "Grüße"}]}})
    assert json.loads(plain.read_text()) == {"box": {"tasks": [{"id": "1", "message": "Grüße"}]}}
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    writer.write_data_atomic(dated, {"box": {"tasks": [{"id": "1", "due_at": when}]}})
    assert yamlfile.load(dated)[0]["box"]["tasks"][0]["due_at"] == when


def test_blob_disk_removes_unneeded_content_unless_a_record_took_it_since_the_save_looked(tmp_path):
    """A save finds content nothing names (a deleted file's), then removes it after writing the
    YAML; an upload of the same content between the two must keep it, as a record names it now."""
    from tapeproxy.sim.blobs import BlobDisk, Digests

    content = b"the same bytes, uploaded again"
    digests = Digests.of(content)
    disk = BlobDisk(tmp_path, [])
    with disk.kept(content, digests):
        assert (tmp_path / digests.sha256).read_bytes() == content  # on disk before the record is put
    look, unneeded = disk.unneeded(set())
    assert unneeded == {digests.sha256}
    with disk.kept(content, digests):  # a record names it again, committed inside the block
        pass
    disk.remove(digests.sha256, look)
    assert (tmp_path / digests.sha256).is_file()
    look, unneeded = disk.unneeded({digests.sha256})  # named: not unneeded
    assert unneeded == set()
    look, unneeded = disk.unneeded(set())  # the record is gone: removed after the next save
    disk.remove(digests.sha256, look)
    assert not (tmp_path / digests.sha256).exists()


def test_a_downscoped_box_token_does_what_its_scopes_allow_and_a_revoked_one_nothing():
    from tapeproxy.sim import auth
    from tapeproxy.sim.http import ApiError, SimRequest

    def exchanged(scope: str, resource: str = "") -> str:
        form = f"grant_type={auth.TOKEN_EXCHANGE}&subject_token=app&subject_token_type={auth.ACCESS_TOKEN_TYPE}"
        form += f"&scope={scope}" + (f"&resource={resource}" if resource else "")
        reply = auth.box_token(SimRequest.make("POST", "api.box.com", "/oauth2/token", body=form.encode()))
        assert reply.status == 200, reply.body
        return json.loads(reply.body)["access_token"]

    def refusal(token: str, method: str, path: str) -> int:
        req = SimRequest.make(method, "api.box.com", path, [("Authorization", f"Bearer {token}")])
        try:
            auth.check_box(req)
        except ApiError as e:
            return e.status or 401
        return 0

    preview = exchanged("item_preview item_delete", "https://api.box.com/2.0/files/12")
    assert refusal(preview, "GET", "/2.0/files/12") == 0 and refusal(preview, "DELETE", "/2.0/files/12") == 0
    assert refusal(preview, "PUT", "/2.0/files/12") == 403  # no rename
    assert refusal(preview, "GET", "/2.0/files/13") == 403  # another file
    reader = exchanged("root_readonly")
    assert refusal(reader, "GET", "/2.0/folders/0/items") == 0 and refusal(reader, "POST", "/2.0/folders") == 403
    assert refusal("1!not-ours", "DELETE", "/2.0/files/12") == 0  # a token it cannot read: opaque
    wider = f"grant_type={auth.TOKEN_EXCHANGE}&subject_token={reader}&subject_token_type={auth.ACCESS_TOKEN_TYPE}"
    wider += "&scope=root_readwrite"
    assert auth.box_token(SimRequest.make("POST", "api.box.com", "/oauth2/token", body=wider.encode())).status == 401
    revoke = SimRequest.make(
        "POST", "api.box.com", "/oauth2/revoke", body=f"client_id=a&client_secret=b&token={reader}".encode()
    )
    assert auth.box_revoke(revoke).status == 200
    assert refusal(reader, "GET", "/2.0/folders/0/items") == 401


def test_json_patch_applies_rfc_6902_all_or_nothing():
    import pytest

    from tapeproxy.core import jsonpatch

    doc = {"a": 1, "list": ["x"], "o": {"k~/": 1}}
    patched = jsonpatch.apply(
        doc,
        [
            {"op": "add", "path": "/list/0", "value": "w"},
            {"op": "add", "path": "/list/-", "value": "y"},
            {"op": "replace", "path": "/a", "value": 2},
            {"op": "copy", "from": "/o/k~0~1", "path": "/b"},
            {"op": "move", "from": "/b", "path": "/c"},
            {"op": "test", "path": "/c", "value": 1},
            {"op": "remove", "path": "/list/2"},
        ],
    )
    assert patched == {"a": 2, "list": ["w", "x"], "o": {"k~/": 1}, "c": 1}
    assert doc == {"a": 1, "list": ["x"], "o": {"k~/": 1}}  # the document is left as it was
    for bad in (
        [{"op": "test", "path": "/a", "value": 9}],
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "remove", "path": "/list/5"}],
        [{"op": "move", "from": "/o", "path": "/o/inner"}],
        [{"op": "frobnicate", "path": "/a"}],
        [{"op": "add", "path": "a", "value": 1}],
        {"op": "add"},
    ):
        with pytest.raises(jsonpatch.PatchError):
            jsonpatch.apply(doc, bad)
