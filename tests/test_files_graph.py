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
    assert session.upload_url.startswith("https://tapeproxy-my.sharepoint.com/")
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
        http.headers.pop("Authorization")
        assert http.get(f"{G}/me/drive").status_code == 401
