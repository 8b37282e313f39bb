"""The official SDKs, unchanged, succeed against `tapeproxy demo` (msgraph-sdk on httpx, box-sdk-gen on requests)."""

import asyncio
import datetime

from helpers import GRAPH_DEF, GRAPH_TASK, graph_client


def test_msgraph_sdk_updates_a_print_task(demo):
    from msgraph.generated.models.print_task import PrintTask
    from msgraph.generated.models.print_task_processing_state import PrintTaskProcessingState
    from msgraph.generated.models.print_task_status import PrintTaskStatus

    async def update():
        client, transport = graph_client(demo)
        task = client.print.task_definitions.by_print_task_definition_id(GRAPH_DEF).tasks.by_print_task_id(GRAPH_TASK)
        body = PrintTask(status=PrintTaskStatus(state=PrintTaskProcessingState.Completed, description="completed"))
        try:
            return await task.patch(body)
        finally:
            await transport.aclose()

    result = asyncio.run(update())
    assert result.id == GRAPH_TASK
    assert result.status.state == PrintTaskProcessingState.Completed
    assert result.status.description == "completed"


def test_box_sdk_gen_updates_a_task(demo, monkeypatch):
    from box_sdk_gen import BoxClient, BoxDeveloperTokenAuth
    from box_sdk_gen.managers.tasks import UpdateTaskByIdAction, UpdateTaskByIdCompletionRule
    from box_sdk_gen.networking.proxy_config import ProxyConfig

    # box-sdk-gen uses a requests session, whose verify the environment overrides: set it.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", demo.ca)
    client = BoxClient(BoxDeveloperTokenAuth(token="offline-demo-token")).with_proxy(ProxyConfig(url=demo.url))
    due = datetime.datetime(2012, 12, 12, 10, 53, 43, tzinfo=datetime.timezone(datetime.timedelta(hours=-8)))
    task = client.tasks.update_task_by_id(
        "11446498",
        action=UpdateTaskByIdAction.REVIEW,
        message="Please review",
        due_at=due,
        completion_rule=UpdateTaskByIdCompletionRule.ALL_ASSIGNEES,
    )
    assert task.id == "11446498" and task.message == "Please review"
    assert task.item.name == "Contract.pdf"
