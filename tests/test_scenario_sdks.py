"""The official SDKs against scenarios: their retry handlers recover, and with retries off they raise
their own error types with the fields filled from the envelope."""

import asyncio
import time

import pytest
from helpers import GRAPH_DEF, GRAPH_TASK, graph_client


def run_graph(proxy, **get_kw):
    async def go():
        client, transport = graph_client(proxy)
        task = client.print.task_definitions.by_print_task_definition_id(GRAPH_DEF).tasks.by_print_task_id(GRAPH_TASK)
        try:
            return await task.get(**get_kw)
        finally:
            await transport.aclose()

    return asyncio.run(go())


def test_msgraph_retry_handler_recovers_from_graph_throttle_once(start_cli):
    proxy = start_cli("demo", "--scenario", "graph-throttle-once")
    start = time.monotonic()
    task = run_graph(proxy)
    elapsed = time.monotonic() - start
    assert task.id == GRAPH_TASK
    assert elapsed >= 1.0  # it waited out Retry-After: 1
    proxy.stop()
    assert "graph-throttle-once rule 1" in proxy.output
    assert "RETRY-AFTER NOT HONOURED" not in proxy.output


def test_msgraph_without_retries_raises_odata_error_with_the_envelope(start_cli):
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError

    proxy = start_cli("demo", "--scenario", "graph-throttle-once")
    config = RequestConfiguration(options=[RetryHandlerOption(max_retries=0, should_retry=False)])
    with pytest.raises(ODataError) as raised:
        run_graph(proxy, request_configuration=config)
    e = raised.value
    assert e.response_status_code == 429
    assert e.error.code == "TooManyRequests" and e.error.message
    assert e.error.inner_error.request_id and e.error.inner_error.client_request_id


def box_client(proxy, monkeypatch, retries: bool):
    from box_sdk_gen import BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.networking.network import NetworkSession
    from box_sdk_gen.networking.proxy_config import ProxyConfig
    from box_sdk_gen.networking.retries import BoxRetryStrategy

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca)  # box-sdk-gen's requests session reads it
    session = NetworkSession()
    if not retries:
        session = session.with_retry_strategy(BoxRetryStrategy(max_attempts=1))
    return BoxClient(BoxDeveloperTokenAuth(token="offline-demo-token"), network_session=session).with_proxy(
        ProxyConfig(url=proxy.url)
    )


def test_box_sdk_gen_recovers_from_box_throttle_once(start_cli, monkeypatch):
    proxy = start_cli("demo", "--scenario", "box-throttle-once")
    start = time.monotonic()
    task = box_client(proxy, monkeypatch, retries=True).tasks.get_task_by_id("11446498")
    assert task.id == "11446498" and time.monotonic() - start >= 1.0
    proxy.stop()
    assert "RETRY-AFTER NOT HONOURED" not in proxy.output


def test_box_sdk_gen_without_retries_raises_box_api_error(start_cli, monkeypatch):
    from box_sdk_gen.box.errors import BoxAPIError

    proxy = start_cli("demo", "--scenario", "box-throttle-once")
    with pytest.raises(BoxAPIError) as raised:
        box_client(proxy, monkeypatch, retries=False).tasks.get_task_by_id("11446498")
    info = raised.value.response_info
    assert info.status_code == 429 and info.code == "rate_limit_exceeded" and info.request_id
    assert info.headers.get("Retry-After") == "1"
