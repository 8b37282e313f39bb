"""What is served is what was recorded: status, every header, body byte for byte, consistent framing."""

import gzip
import os
import subprocess

import brotli
import httpx
import pytest
import requests
from helpers import interaction, write_cassette

BINARY = bytes(range(256)) * 40 + os.urandom(64)
PLAIN = b'{"value": ["caf\xc3\xa9"]}'


@pytest.fixture
def proxy(start_cli, tmp_path):
    base = "https://graph.microsoft.com/v1.0"
    cassette = write_cassette(
        tmp_path / "fidelity.yaml",
        [
            interaction(
                "GET",
                f"{base}/cookies",
                status=201,
                reason="Created",
                body="ok",
                headers={
                    "Set-Cookie": ["a=1; Path=/", "b=2; Path=/; HttpOnly"],
                    "X-Custom": ["kept"],
                    "Content-Length": ["999"],
                    "Transfer-Encoding": ["chunked"],
                },
            ),
            interaction("GET", f"{base}/binary", body=BINARY, headers={"Content-Type": ["application/octet-stream"]}),
            # vcrpy stores the decoded body and keeps the stale header
            interaction(
                "GET",
                f"{base}/stale-gzip",
                body=PLAIN.decode(),
                headers={"Content-Type": ["application/json"], "Content-Encoding": ["gzip"], "Content-Length": ["31"]},
            ),
            interaction(
                "GET",
                f"{base}/real-gzip",
                body=gzip.compress(PLAIN),
                headers={"Content-Type": ["application/json"], "Content-Encoding": ["gzip"]},
            ),
            interaction(
                "GET",
                f"{base}/real-br",
                body=brotli.compress(PLAIN),
                headers={"Content-Type": ["application/json"], "Content-Encoding": ["br"]},
            ),
            interaction("HEAD", f"{base}/binary", body="", headers={"Content-Length": ["10304"]}),
            interaction("DELETE", f"{base}/thing", status=204, reason="No Content", body=None),
        ],
    )
    return start_cli("replay", str(cassette))


def fetch(proxy, path, method="GET", **kw):
    return requests.request(
        method,
        "https://graph.microsoft.com/v1.0" + path,
        proxies={"https": proxy.url},
        verify=proxy.ca,
        timeout=10,
        **kw,
    )


def test_status_reason_and_repeated_headers(proxy):
    r = fetch(proxy, "/cookies")
    assert (r.status_code, r.reason) == (201, "Created")
    assert r.raw.headers.getlist("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/; HttpOnly"]
    assert r.headers["X-Custom"] == "kept"
    assert r.headers["Content-Length"] == "2" and "Transfer-Encoding" not in r.headers
    assert r.content == b"ok"


def test_binary_body_is_byte_exact(proxy):
    r = fetch(proxy, "/binary")
    assert r.content == BINARY
    assert r.headers["Content-Length"] == str(len(BINARY))


def test_stale_content_encoding_is_dropped_for_a_decoded_body(proxy):
    r = fetch(proxy, "/stale-gzip", stream=True)
    raw = r.raw.read(decode_content=False)
    assert raw == PLAIN and "Content-Encoding" not in r.headers
    assert r.headers["Content-Length"] == str(len(PLAIN))


@pytest.mark.parametrize("path", ["/real-gzip", "/real-br"])
def test_really_encoded_bodies_keep_their_encoding(proxy, path):
    r = fetch(proxy, path)
    assert r.headers["Content-Encoding"] in ("gzip", "br")
    assert r.content == PLAIN  # decoded by the client


def test_curl_compressed_and_http2_framing(proxy):
    for path in ("/stale-gzip", "/real-gzip", "/real-br"):
        out = subprocess.run(
            [
                "curl",
                "-sS",
                "--compressed",
                "--http2",
                "--max-time",
                "10",
                "--proxy",
                proxy.url,
                "--cacert",
                proxy.ca,
                "https://graph.microsoft.com/v1.0" + path,
            ],
            capture_output=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == PLAIN


def test_head_and_204_keep_their_framing(proxy):
    r = fetch(proxy, "/binary", method="HEAD")
    assert r.status_code == 200 and r.headers["Content-Length"] == "10304" and r.content == b""
    r = fetch(proxy, "/thing", method="DELETE")
    assert r.status_code == 204 and r.content == b""


def test_httpx_http2_binary(proxy):
    import ssl

    with httpx.Client(
        proxy=proxy.url, verify=ssl.create_default_context(cafile=proxy.ca), http2=True, trust_env=False
    ) as client:
        r = client.get("https://graph.microsoft.com/v1.0/binary")
        assert r.http_version == "HTTP/2" and r.content == BINARY
        r = client.get("https://graph.microsoft.com/v1.0/cookies")
        assert r.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; Path=/; HttpOnly"]
