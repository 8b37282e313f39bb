"""Box and Graph through requests, recorded with pytest-recording: unchanged by tapeproxy."""

import pytest
import requests

BOX = "https://api.box.com/2.0"
GRAPH = "https://graph.microsoft.com/v1.0"
AUTH = {"Authorization": "Bearer a-token-the-cassettes-do-not-hold"}


@pytest.mark.vcr
def test_reads_a_task():
    task = requests.get(f"{BOX}/tasks/11446498", headers=AUTH, timeout=10).json()
    assert task["type"] == "task" and task["action"] == "review"


@pytest.mark.vcr("shared_user.yaml")
def test_lists_a_folder_and_reads_the_user_from_a_shared_cassette():
    items = requests.get(f"{BOX}/folders/0/items", params={"limit": 2}, headers=AUTH, timeout=10).json()
    assert [e["name"] for e in items["entries"]] == ["Contracts", "Brief.docx"]
    me = requests.get(f"{BOX}/users/me", headers=AUTH, timeout=10).json()
    assert me["login"] == "megan@contoso.com"


@pytest.mark.default_cassette("shared_user.yaml")
@pytest.mark.vcr
def test_the_default_cassette_marker_names_another_file():
    assert requests.get(f"{BOX}/users/me", headers=AUTH, timeout=10).json()["name"] == "Megan Bowen"


@pytest.mark.vcr(match_on=["method", "path"])
def test_marker_keywords_override_the_config():
    # the query differs from the recording's; this test matches on method and path only
    user = requests.get(f"{GRAPH}/users/AdeleV@contoso.com", params={"$select": "id"}, headers=AUTH, timeout=10)
    assert user.json()["displayName"] == "Adele Vance"


class TestPrintTasks:
    @pytest.mark.vcr
    def test_updates_a_print_task(self):
        definition, task = "3203656e-6069-4e10-8147-d25290b00a3c", "26b4e1b5-8f6e-4f0a-9c57-1b2a6f8e6c2d"
        url = f"{GRAPH}/print/taskDefinitions/{definition}/tasks/{task}"
        done = requests.patch(url, json={"status": {"state": "completed"}}, headers=AUTH, timeout=10)
        assert done.status_code == 200 and done.json()["status"]["state"] == "completed"


@pytest.mark.parametrize("task_id", ["11446601", "11446602"])
@pytest.mark.vcr
def test_each_parameter_has_its_cassette(task_id):
    assert requests.get(f"{BOX}/tasks/{task_id}", headers=AUTH, timeout=10).json()["id"] == task_id


def test_without_the_marker_nothing_is_served():
    assert True
