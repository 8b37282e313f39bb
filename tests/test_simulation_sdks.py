"""Full flows against `tapeproxy demo` with the official SDKs, offline: the world reacts."""

import asyncio
import base64
import datetime
import json

import pytest
from helpers import graph_client


@pytest.fixture
def demo_proxy(start_cli):
    return start_cli("demo")


def test_msgraph_sdk_creates_patches_and_reads_back_print_tasks(demo_proxy):
    from msgraph.generated.models.app_identity import AppIdentity
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.print_task import PrintTask
    from msgraph.generated.models.print_task_definition import PrintTaskDefinition
    from msgraph.generated.models.print_task_processing_state import PrintTaskProcessingState as State
    from msgraph.generated.models.print_task_status import PrintTaskStatus

    async def flow():
        client, transport = graph_client(demo_proxy)
        try:
            definition = await client.print.task_definitions.post(
                PrintTaskDefinition(
                    display_name="Redact before printing", created_by=AppIdentity(app_id="a1", display_name="Redactor")
                )
            )
            tasks = client.print.task_definitions.by_print_task_definition_id(definition.id).tasks
            task = await tasks.post(
                PrintTask(
                    parent_url="https://graph.microsoft.com/v1.0/print/printers/p1/jobs/7",
                    status=PrintTaskStatus(state=State.Pending, description="queued"),
                )
            )
            await tasks.by_print_task_id(task.id).patch(
                PrintTask(status=PrintTaskStatus(state=State.Completed, description="redacted"))
            )
            again = await tasks.by_print_task_id(task.id).get()
            listed = await tasks.get()
            with pytest.raises(ODataError) as bad:
                await tasks.by_print_task_id(task.id).patch(
                    PrintTask(status=PrintTaskStatus(state=State.UnknownFutureValue))
                )
            return definition, task, again, listed, bad.value
        finally:
            await transport.aclose()

    definition, task, again, listed, error = asyncio.run(flow())
    assert definition.display_name == "Redact before printing" and definition.created_by.app_id == "a1"
    assert task.status.state == State.Pending
    assert again.status.state == State.Completed and again.status.description == "redacted"
    assert again.parent_url == "https://graph.microsoft.com/v1.0/print/printers/p1/jobs/7"  # kept: not sent
    assert [t.id for t in listed.value] == [task.id]
    assert error.response_status_code == 400 and error.error.code == "invalidRequest"
    assert "unknownFutureValue" in error.error.message and error.error.inner_error.request_id


def box(proxy, monkeypatch):
    from box_sdk_gen import BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", proxy.ca)  # box-sdk-gen's requests session reads it
    return BoxClient(BoxDeveloperTokenAuth(token="offline-demo-token")).with_proxy(ProxyConfig(url=proxy.url))


@pytest.mark.parametrize("rule", ["any_assignee", "all_assignees"])
def test_box_sdk_gen_task_flow_and_completion_rules(demo_proxy, monkeypatch, rule):
    from box_sdk_gen.managers.task_assignments import CreateTaskAssignmentAssignTo, CreateTaskAssignmentTask
    from box_sdk_gen.managers.task_assignments import UpdateTaskAssignmentByIdResolutionState as Resolution
    from box_sdk_gen.managers.tasks import (
        CreateTaskAction,
        CreateTaskCompletionRule,
        CreateTaskItem,
        UpdateTaskByIdAction,
    )

    client = box(demo_proxy, monkeypatch)
    task = client.tasks.create_task(
        CreateTaskItem(id="12345"),
        action=CreateTaskAction.REVIEW,
        message="Sign off",
        completion_rule=CreateTaskCompletionRule(rule),
    )
    assert task.item.name == "Contract.pdf" and task.is_completed is False
    due = datetime.datetime(2026, 12, 24, 17, 0, tzinfo=datetime.UTC)
    task = client.tasks.update_task_by_id(task.id, action=UpdateTaskByIdAction.COMPLETE, message="Sign it", due_at=due)
    assert task.action.value == "complete" and task.message == "Sign it" and task.due_at == due
    a1, a2 = (
        client.task_assignments.create_task_assignment(
            CreateTaskAssignmentTask(id=task.id), CreateTaskAssignmentAssignTo(id=user)
        )
        for user in ("11446499", "11446500")
    )
    client.task_assignments.update_task_assignment_by_id(a1.id, resolution_state=Resolution.COMPLETED)
    after_one = client.tasks.get_task_by_id(task.id)
    assert after_one.is_completed is (rule == "any_assignee")
    client.task_assignments.update_task_assignment_by_id(a2.id, resolution_state=Resolution.COMPLETED)
    assert client.tasks.get_task_by_id(task.id).is_completed is True
    on_file = client.tasks.get_file_tasks("12345")
    assert task.id in [t.id for t in on_file.entries]
    assert client.task_assignments.get_task_assignments(task.id).total_count == 2


def test_box_sdk_gen_gets_typed_errors(demo_proxy, monkeypatch):
    from box_sdk_gen.box.errors import BoxAPIError
    from box_sdk_gen.managers.task_assignments import UpdateTaskAssignmentByIdResolutionState as Resolution

    client = box(demo_proxy, monkeypatch)
    with pytest.raises(BoxAPIError) as missing:
        client.tasks.get_task_by_id("999")
    assert missing.value.response_info.status_code == 404 and missing.value.response_info.code == "not_found"
    # a review task cannot be "completed": only approved or rejected
    with pytest.raises(BoxAPIError) as bad:
        client.task_assignments.update_task_assignment_by_id("11446498", resolution_state=Resolution.COMPLETED)
    assert bad.value.response_info.status_code == 400 and bad.value.response_info.code == "bad_request"


def test_msgraph_sdk_signs_in_with_client_secret_credential_offline(demo_proxy, monkeypatch, confdir):
    """azure-identity asks Microsoft identity (simulated) for an app token; msgraph-sdk then uses it."""
    from azure.identity.aio import ClientSecretCredential
    from msgraph import GraphServiceClient

    bundle = str(confdir / "tapeproxy-ca-bundle.pem")  # the CA plus system roots, as the banner says
    for name, value in {
        "HTTPS_PROXY": demo_proxy.url,
        "HTTP_PROXY": demo_proxy.url,
        "SSL_CERT_FILE": bundle,
        "REQUESTS_CA_BUNDLE": bundle,
        "NO_PROXY": "",
    }.items():
        monkeypatch.setenv(name, value)

    async def flow():
        # connection_verify: aiohttp may have built its default SSL context before this test set SSL_CERT_FILE
        credential = ClientSecretCredential(
            "contoso.onmicrosoft.com", "app-client-id", "app-client-secret", connection_verify=bundle
        )
        try:
            client = GraphServiceClient(credentials=credential, scopes=["https://graph.microsoft.com/.default"])
            definitions = await client.print.task_definitions.get()
            token = await credential.get_token("https://graph.microsoft.com/.default")
            return definitions, token
        finally:
            await credential.close()

    definitions, token = asyncio.run(flow())
    assert definitions.value[0].id == "3203656e-6069-4e10-8147-d25290b00a3c"
    assert definitions.odata_next_link is None and len(definitions.value) == 4
    claims = json.loads(base64.urlsafe_b64decode(token.token.split(".")[1] + "=="))
    # the default app registration: every application permission, the print tasks' role among them
    assert "PrintTaskDefinition.ReadWrite.All" in claims["roles"] and len(claims["roles"]) > 500
    assert claims["tid"] == "contoso.onmicrosoft.com" and claims["idtyp"] == "app"
