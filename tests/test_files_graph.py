"""OneDrive drive items in `tapeproxy demo`, through msgraph-sdk (default middleware) and httpx:
small uploads, upload sessions with their fragments, downloads through the 302 to the tenant host."""

import asyncio
import hashlib
import io
import os
import ssl

import httpx
import pytest
from helpers import graph_client

G = "https://graph.microsoft.com/v1.0"


@pytest.fixture
def demo_proxy(start_cli):
    return start_cli("demo")


def raw(proxy) -> httpx.Client:
    return httpx.Client(
        proxy=proxy.url,
        verify=ssl.create_default_context(cafile=proxy.ca),
        trust_env=False,
        headers={"Authorization": "Bearer offline-demo-token"},
    )


def test_put_content_then_get_content_returns_the_bytes(demo_proxy):
    data = "Grüße, offline\n".encode() * 300

    async def flow():
        client, transport = graph_client(demo_proxy)
        try:
            drive = await client.me.drive.get()
            items = client.drives.by_drive_id(drive.id).items
            item = await items.by_drive_item_id("root:/notes/hello.txt:").content.put(data)
            back = await items.by_drive_item_id(item.id).content.get()
            by_path = await items.by_drive_item_id("root:/notes/hello.txt:").get()
            children = await items.by_drive_item_id("root:/notes:").children.get()
            return drive, item, back, by_path, children
        finally:
            await transport.aclose()

    drive, item, back, by_path, children = asyncio.run(flow())
    assert back == data
    assert item.name == "hello.txt" and item.size == len(data) and item.parent_reference.path == "/drive/root:/notes"
    assert item.file.hashes.sha256_hash == hashlib.sha256(data).hexdigest().upper()
    assert by_path.id == item.id and [c.name for c in children.value] == ["hello.txt"]
    assert drive.id == item.parent_reference.drive_id


def test_an_upload_session_takes_fragments_and_answers_as_graph_does(demo_proxy):
    from msgraph.generated.drives.item.items.item.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
        CreateUploadSessionPostRequestBody,
    )
    from msgraph.generated.models.drive_item_uploadable_properties import DriveItemUploadableProperties

    async def create():
        client, transport = graph_client(demo_proxy)
        try:
            drive = await client.me.drive.get()
            body = CreateUploadSessionPostRequestBody(
                item=DriveItemUploadableProperties(additional_data={"@microsoft.graph.conflictBehavior": "fail"})
            )
            items = client.drives.by_drive_id(drive.id).items
            return await items.by_drive_item_id("root:/Videos/launch.mp4:").create_upload_session.post(body)
        finally:
            await transport.aclose()

    session = asyncio.run(create())
    assert session.upload_url.startswith("https://contoso-my.sharepoint.com/")
    assert session.next_expected_ranges == ["0-"]
    data = os.urandom(3 * 327680 + 1234)
    fragment = 2 * 327680  # a multiple of 320 KiB, as Graph asks
    with raw(demo_proxy) as http:
        first = http.put(
            session.upload_url,
            content=data[:fragment],
            headers={"Content-Range": f"bytes 0-{fragment - 1}/{len(data)}"},
        )
        assert first.status_code == 202 and first.json()["nextExpectedRanges"] == [f"{fragment}-"]
        again = http.put(session.upload_url, content=data[:10], headers={"Content-Range": f"bytes 0-9/{len(data)}"})
        assert again.status_code == 416 and again.json()["error"]["code"] == "invalidRange"
        assert http.get(session.upload_url).json()["nextExpectedRanges"] == [f"{fragment}-"]
        last = http.put(
            session.upload_url,
            content=data[fragment:],
            headers={"Content-Range": f"bytes {fragment}-{len(data) - 1}/{len(data)}"},
        )
        assert last.status_code == 201 and last.json()["size"] == len(data), last.text
        assert last.json()["file"]["hashes"]["sha1Hash"] == hashlib.sha1(data).hexdigest().upper()
        got = http.get(f"{G}/me/drive/root:/Videos/launch.mp4:/content", follow_redirects=True)
        assert got.content == data
        part = http.get(last.json()["@microsoft.graph.downloadUrl"], headers={"Range": "bytes=100-199"})
        assert part.status_code == 206 and part.content == data[100:200]
        conflict = http.post(
            f"{G}/me/drive/root:/Videos/launch.mp4:/createUploadSession",
            json={"item": {"@microsoft.graph.conflictBehavior": "fail"}},
        )
        assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "nameAlreadyExists"


def test_msgraph_large_file_upload_task_gets_what_graph_gives_it(demo_proxy):
    """msgraph-core's LargeFileUploadTask sends a file smaller than its chunk size and then the
    last chunk once more; Graph answers that 400 (msgraph-sdk-python-core issue 718), and so does
    the demo. The file arrives whole all the same."""
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.drives.item.items.item.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
        CreateUploadSessionPostRequestBody,
    )
    from msgraph.generated.models.drive_item import DriveItem
    from msgraph_core.tasks.large_file_upload import LargeFileUploadTask

    data = os.urandom(1_000_000)

    async def flow():
        client, transport = graph_client(demo_proxy)
        try:
            items = client.drives.by_drive_id((await client.me.drive.get()).id).items
            session = await items.by_drive_item_id("root:/report.pdf:").create_upload_session.post(
                CreateUploadSessionPostRequestBody()
            )
            task = LargeFileUploadTask(session, client.request_adapter, io.BytesIO(data), parsable_factory=DriveItem)
            with pytest.raises(APIError) as refused:
                await task.upload()
            back = await items.by_drive_item_id("root:/report.pdf:").content.get()
            return refused.value, back
        finally:
            await transport.aclose()

    refused, back = asyncio.run(flow())
    assert refused.response_status_code == 400
    assert back == data


def test_drive_errors_in_graphs_envelope(demo_proxy):
    with raw(demo_proxy) as http:
        missing = http.get(f"{G}/me/drive/root:/nope.txt:/content")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "itemNotFound"
        bad = http.put(f"{G}/me/drive/root:/a%3Fb.txt:/content", content=b"x")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalidRequest"
        refused = http.put(f"{G}/me/drive/root:/new%20folder/a%3Fb.txt:/content", content=b"x")
        assert refused.status_code == 400
        assert http.get(f"{G}/me/drive/root:/new%20folder:").status_code == 404  # a refused PUT changes nothing
        http.headers.pop("Authorization")
        assert http.get(f"{G}/me/drive").status_code == 401


PRINTER = "86b6d420-7e6b-4797-a05c-af4e56cd81bd"  # the demo world's printer, named by its print tasks


def test_a_print_job_document_uploads_through_its_session_and_the_job_starts(demo_proxy):
    from kiota_abstractions.api_error import APIError
    from msgraph.generated.models.print_document_upload_properties import PrintDocumentUploadProperties
    from msgraph.generated.models.print_job import PrintJob
    from msgraph.generated.models.print_job_configuration import PrintJobConfiguration
    from msgraph.generated.models.print_job_processing_state import PrintJobProcessingState as State
    from msgraph.generated.print.printers.item.jobs.item.documents.item.create_upload_session.create_upload_session_post_request_body import (  # noqa: E501
        CreateUploadSessionPostRequestBody,
    )

    data = b"%PDF-1.7\n" + os.urandom(700_000)

    async def create():
        client, transport = graph_client(demo_proxy)
        try:
            jobs = client.print.printers.by_printer_id(PRINTER).jobs
            job = await jobs.post(PrintJob(configuration=PrintJobConfiguration(copies=2)))
            job_api = jobs.by_print_job_id(job.id)
            with pytest.raises(APIError) as early:
                await job_api.start.post()  # nothing uploaded yet
            doc = job_api.documents.by_print_document_id(job.documents[0].id)
            props = PrintDocumentUploadProperties(
                document_name="q3.pdf", content_type="application/pdf", size=len(data)
            )
            session = await doc.create_upload_session.post(CreateUploadSessionPostRequestBody(properties=props))
            return job, early.value, session
        finally:
            await transport.aclose()

    async def finish(job):
        client, transport = graph_client(demo_proxy)
        try:
            job_api = client.print.printers.by_printer_id(PRINTER).jobs.by_print_job_id(job.id)
            started = await job_api.start.post()
            doc = job_api.documents.by_print_document_id(job.documents[0].id)
            return started, await doc.get(), await doc.content.get()
        finally:
            await transport.aclose()

    job, early, session = asyncio.run(create())
    assert job.status.state == State.Paused and early.response_status_code == 400
    assert session.upload_url.startswith("https://print.print.microsoft.com/")
    with raw(demo_proxy) as http:
        http.headers.pop("Authorization")  # the uploadUrl carries its own credential
        r = http.put(
            session.upload_url, content=data, headers={"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}
        )
        assert r.status_code == 201 and r.json()["size"] == len(data), r.text
    started, doc, content = asyncio.run(finish(job))
    assert started.state == State.Processing
    assert (doc.display_name, doc.content_type, doc.size) == ("q3.pdf", "application/pdf", len(data))
    assert content == data


def test_a_print_task_leads_to_its_job_and_the_jobs_document(demo_proxy):
    with raw(demo_proxy) as http:
        task = http.get(
            f"{G}/print/taskDefinitions/3203656e-6069-4e10-8147-d25290b00a3c/tasks/d036638b-1272-4bba-9227-732463823ed3"
        ).json()
        job = http.get(task["parentUrl"], params={"$expand": "documents"}).json()
        assert job["id"] == task["parentUrl"].rsplit("/", 1)[1] and job["status"]["state"] == "processing"
        doc = job["documents"][0]
        content = http.get(f"{task['parentUrl']}/documents/{doc['id']}/$value", follow_redirects=True)
        assert content.status_code == 200 and len(content.content) == doc["size"] > 0
        wrong = http.post(
            f"{G}/print/printers/{PRINTER}/jobs/{job['id']}/documents/{doc['id']}/createUploadSession",
            json={"properties": {"documentName": "x.pdf", "size": 10}},
        )
        assert wrong.status_code == 400 and "contentType" in wrong.json()["error"]["message"]


def test_drive_content_and_print_documents_survive_a_restart_with_state(start_cli, tmp_path):
    from helpers import run_cli

    state = tmp_path / "state.yaml"
    proxy = start_cli("demo", "--state", str(state))
    data = os.urandom(2000)
    with raw(proxy) as http:
        assert http.put(f"{G}/me/drive/root:/kept/a.bin:/content", content=data).status_code == 201
        job = http.post(f"{G}/print/printers/{PRINTER}/jobs", json={"configuration": {}}).json()
        doc = job["documents"][0]["id"]
        url = f"{G}/print/printers/{PRINTER}/jobs/{job['id']}/documents/{doc}"
        props = {"documentName": "p.pdf", "contentType": "application/pdf", "size": len(data)}
        upload = http.post(f"{url}/createUploadSession", json={"properties": props}).json()["uploadUrl"]
        headers = {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}
        assert http.put(upload, content=data[::-1], headers=headers).status_code == 201
    proxy.stop()
    proxy = start_cli("demo", "--state", str(state))
    with raw(proxy) as http:
        assert http.get(f"{G}/me/drive/root:/kept/a.bin:/content", follow_redirects=True).content == data
        assert http.get(f"{url}/$value", follow_redirects=True).content == data[::-1]
        assert run_cli(["ctl", "reset-world", "--proxy", proxy.url]).returncode == 0
        assert http.get(f"{G}/me/drive/root:/kept/a.bin:").status_code == 404
        assert http.get(f"{url}/$value").status_code == 404


def test_with_state_content_is_on_disk_before_the_database_names_it(tmp_path, confdir, monkeypatch):
    """Print jobs are records of the store: committed to the database when the request's
    transaction ends, so a document's content must be on disk by then (a kill -9 before the
    state's next save would leave a record naming nothing, and a state that cannot start)."""
    import json
    import sqlite3

    from tapeproxy.runtime.inprocess import BackgroundProxy
    from tapeproxy.sim.store import Store

    state = tmp_path / "state.yaml"
    named_but_missing: list[str] = []
    commit = Store._write

    def checked(self, keys):  # after every commit: what the database names is on disk
        commit(self, keys)
        if self._db is None:  # a store with no database yet (the world being loaded)
            return
        with sqlite3.connect(f"{state}.db") as db:
            for (body,) in db.execute("SELECT body FROM records WHERE collection = 'graph:print/jobs'"):
                for d in json.loads(body)["documents"]:
                    if d.get("blob") and not (tmp_path / "state.yaml.blobs" / d["blob"]).is_file():
                        named_but_missing.append(d["blob"])

    monkeypatch.setattr(Store, "_write", checked)
    settings = {"confdir": str(confdir), "tapeproxy_simulate": True, "tapeproxy_state": str(state)}
    data = os.urandom(3000)
    with BackgroundProxy(settings) as proxy:
        verify = ssl.create_default_context(cafile=proxy.ca_path)
        auth = {"Authorization": "Bearer offline-demo-token"}
        with httpx.Client(proxy=proxy.url, verify=verify, trust_env=False, headers=auth) as http:
            job = http.post(f"{G}/print/printers/{PRINTER}/jobs", json={"configuration": {}}).json()
            url = f"{G}/print/printers/{PRINTER}/jobs/{job['id']}/documents/{job['documents'][0]['id']}"
            props = {"documentName": "p.pdf", "contentType": "application/pdf", "size": len(data)}
            upload = http.post(f"{url}/createUploadSession", json={"properties": props}).json()["uploadUrl"]
            headers = {"Content-Range": f"bytes 0-{len(data) - 1}/{len(data)}"}
            assert http.put(upload, content=data, headers=headers).status_code == 201
            assert http.get(f"{url}/$value", follow_redirects=True).content == data
    assert named_but_missing == []


def test_a_path_over_onedrives_400_characters_is_refused_and_the_drive_keeps_working(demo_proxy):
    """Issue 27, 1: a 990-level path once made a folder whose listing and delete answered 500
    (RecursionError) for every client; OneDrive refuses a decoded path over 400 characters."""
    deep = "/".join(["d", *["a"] * 990, "f.txt"])
    with raw(demo_proxy) as http:
        refused = http.put(f"{G}/me/drive/root:/{deep}:/content", content=b"x")
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["code"] == "invalidRequest" and error["innerError"]["code"] == "pathIsTooLong"
        assert http.get(f"{G}/me/drive/root:/d:").status_code == 404  # nothing was made on the way
        assert http.get(f"{G}/me/drive/root/children").status_code == 200
        longest = "/".join(["b" * 99] * 4)  # 399 characters, and 401 with ".t"
        assert http.put(f"{G}/me/drive/root:/{longest}.t:/content", content=b"x").status_code == 400
        assert http.put(f"{G}/me/drive/root:/{longest[:-2]}.t:/content", content=b"x").status_code == 201
        # under an item addressed by id, the path counts from the root too
        folder = http.get(f"{G}/me/drive/root:/{'b' * 99}:").json()["id"]
        rest = "/".join(["b" * 99] * 3)
        assert http.put(f"{G}/me/drive/items/{folder}:/{rest}/x.txt:/content", content=b"x").status_code == 400
        huge = "/".join(["a"] * 12_000)
        assert http.get(f"{G}/me/drive/root:/{huge}:").status_code == 400
        assert http.delete(f"{G}/me/drive/root:/{'b' * 99}:").status_code == 204
        assert http.get(f"{G}/me/drive/root/children").status_code == 200


def test_a_drive_thousands_of_levels_deep_lists_reads_and_deletes(start_cli, tmp_path):
    """A world (or a state file written before paths were limited) with a tree 3,000 levels deep:
    folders are walked in loops, never by recursion."""
    import yaml

    items = [{"id": "L0", "name": "top", "folder": True}]
    items += [{"id": f"L{i}", "name": "a", "folder": True, "parent": f"L{i - 1}"} for i in range(1, 3000)]
    items.append({"id": "F", "name": "leaf.txt", "parent": "L2999", "content": "deep\n"})
    world = tmp_path / "deep.yaml"
    world.write_text(yaml.safe_dump({"graph": {"drive": {"items": items}}}))
    proxy = start_cli("demo", "--world", str(world))
    with raw(proxy) as http:
        listing = http.get(f"{G}/me/drive/root/children")
        assert listing.status_code == 200, listing.text
        assert [(c["name"], c["size"]) for c in listing.json()["value"]] == [("top", 5)]
        leaf = http.get(f"{G}/me/drive/items/F")
        assert leaf.status_code == 200 and leaf.json()["parentReference"]["path"].count("/a") == 2999
        assert http.get(f"{G}/me/drive/items/F/content", follow_redirects=True).content == b"deep\n"
        assert http.delete(f"{G}/me/drive/items/L0").status_code == 204
        assert http.get(f"{G}/me/drive/items/F").status_code == 404
        assert http.get(f"{G}/me/drive/root/children").json()["value"] == []


def test_a_session_made_with_conflict_fail_ends_in_409_if_the_name_was_taken_meanwhile(demo_proxy):
    """Issue 27, 14: the session completed with 201 over an item of the same name (two dup.txt in
    one folder); Graph answers 409 nameAlreadyExists."""
    with raw(demo_proxy) as http:
        body = {"item": {"@microsoft.graph.conflictBehavior": "fail"}}
        url = http.post(f"{G}/me/drive/root:/dup.txt:/createUploadSession", json=body).json()["uploadUrl"]
        assert http.put(f"{G}/me/drive/root:/dup.txt:/content", content=b"first").status_code == 201
        done = http.put(url, content=b"second", headers={"Content-Range": "bytes 0-5/6"})
        assert done.status_code == 409 and done.json()["error"]["code"] == "nameAlreadyExists", done.text
        names = [c["name"] for c in http.get(f"{G}/me/drive/root/children").json()["value"]]
        assert names.count("dup.txt") == 1
        assert http.get(f"{G}/me/drive/root:/dup.txt:/content", follow_redirects=True).content == b"first"
        renamed = {"item": {"@microsoft.graph.conflictBehavior": "rename"}}
        url = http.post(f"{G}/me/drive/root:/dup.txt:/createUploadSession", json=renamed).json()["uploadUrl"]
        done = http.put(url, content=b"third", headers={"Content-Range": "bytes 0-4/5"})
        assert done.status_code == 201 and done.json()["name"] == "dup 1.txt", done.text


def test_a_deleted_or_replaced_items_download_url_no_longer_serves_it(demo_proxy):
    """Issue 27, 5: the download URL named the content's SHA-256, so it served a deleted file, and
    any content whose digest one knew."""
    with raw(demo_proxy) as http:
        first = http.put(f"{G}/me/drive/root:/gone.txt:/content", content=b"v1").json()
        second = http.put(f"{G}/me/drive/root:/gone.txt:/content", content=b"v2").json()
        assert http.get(second["@microsoft.graph.downloadUrl"]).content == b"v2"
        assert http.get(first["@microsoft.graph.downloadUrl"]).status_code == 401  # another version's
        forged = (
            second["@microsoft.graph.downloadUrl"].split("&tempauth=")[0]
            + "&tempauth="
            + hashlib.sha256(b"v2").hexdigest()
        )
        assert http.get(forged).status_code == 401
        assert http.delete(f"{G}/me/drive/items/{second['id']}").status_code == 204
        gone = http.get(second["@microsoft.graph.downloadUrl"])
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "itemNotFound"
