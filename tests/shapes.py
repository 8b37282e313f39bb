"""The official shapes the simulation must serve, kept by the project as JSON Schemas.

Written from Box's OpenAPI (Task, Tasks, TaskAssignment, TaskAssignments, ClientError and the
File/User mini objects they embed) and Graph's v1.0 CSDL (printTask, printTaskDefinition,
printTaskStatus, appIdentity). test_conformance checks them against those specs when the specs are
at hand, so they cannot drift. Where the real service differs from its spec, the deviation is
listed in DEVIATIONS and allowed on purpose.
"""

DATE_TIME = {"type": "string", "format": "date-time"}
# Box sends null for an unset date although its OpenAPI does not say nullable.
NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
DEVIATIONS = {("Task", "due_at"), ("TaskAssignment", "completed_at"), ("TaskAssignment", "reminded_at")}

BOX_FILE_MINI = {
    "type": "object",
    "required": ["id", "type"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "etag": {"type": ["string", "null"]},
        "type": {"enum": ["file"]},
        "sequence_id": {"type": ["string", "null"]},
        "name": {"type": "string"},
        "sha1": {"type": "string"},
        "file_version": {
            "type": "object",
            "required": ["id", "type"],
            "properties": {"id": {"type": "string"}, "type": {"enum": ["file_version"]}, "sha1": {"type": "string"}},
        },
    },
}
BOX_USER_MINI = {
    "type": "object",
    "required": ["id", "type"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "type": {"enum": ["user"]},
        "name": {"type": "string"},
        "login": {"type": "string"},
    },
}
BOX_TASK_ASSIGNMENT = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "type": {"enum": ["task_assignment"]},
        "item": BOX_FILE_MINI,
        "assigned_to": BOX_USER_MINI,
        "message": {"type": "string"},
        "completed_at": NULLABLE_DATE_TIME,
        "assigned_at": DATE_TIME,
        "reminded_at": NULLABLE_DATE_TIME,
        "resolution_state": {"enum": ["completed", "incomplete", "approved", "rejected"]},
        "assigned_by": BOX_USER_MINI,
    },
}
BOX_TASK_ASSIGNMENTS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"total_count": {"type": "integer"}, "entries": {"type": "array", "items": BOX_TASK_ASSIGNMENT}},
}
BOX_TASK = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string"},
        "type": {"enum": ["task"]},
        "item": BOX_FILE_MINI,
        "due_at": NULLABLE_DATE_TIME,
        "action": {"enum": ["review", "complete"]},
        "message": {"type": "string"},
        "task_assignment_collection": BOX_TASK_ASSIGNMENTS,
        "is_completed": {"type": "boolean"},
        "created_by": BOX_USER_MINI,
        "created_at": DATE_TIME,
        "completion_rule": {"enum": ["all_assignees", "any_assignee"]},
    },
}
BOX_TASKS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"total_count": {"type": "integer"}, "entries": {"type": "array", "items": BOX_TASK}},
}
BOX_CLIENT_ERROR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "status", "code", "message", "help_url", "request_id"],
    "properties": {
        "type": {"enum": ["error"]},
        "status": {"type": "integer"},
        "code": {
            "enum": [
                "created",
                "accepted",
                "no_content",
                "redirect",
                "not_modified",
                "bad_request",
                "unauthorized",
                "forbidden",
                "not_found",
                "method_not_allowed",
                "conflict",
                "precondition_failed",
                "too_many_requests",
                "internal_server_error",
                "unavailable",
                "item_name_invalid",
                "insufficient_scope",
            ]
        },
        "message": {"type": "string"},
        "context_info": {"type": ["object", "null"]},
        "help_url": {"type": "string"},
        "request_id": {"type": "string"},
    },
}

ODATA = {"@odata.context": {"type": "string"}, "@odata.nextLink": {"type": "string"}}
GRAPH_PRINT_TASK_STATUS = {
    "type": "object",
    "required": ["description", "state"],
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string"},
        "state": {"enum": ["pending", "processing", "completed", "aborted", "unknownFutureValue"]},
    },
}
GRAPH_PRINT_TASK = {
    "type": "object",
    "required": ["id", "parentUrl", "status"],
    "additionalProperties": False,
    "properties": {
        **ODATA,
        "id": {"type": "string"},
        "parentUrl": {"type": "string"},
        "status": GRAPH_PRINT_TASK_STATUS,
    },
}
GRAPH_APP_IDENTITY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        k: {"type": ["string", "null"]} for k in ("appId", "displayName", "servicePrincipalId", "servicePrincipalName")
    },
}
GRAPH_PRINT_TASK_DEFINITION = {
    "type": "object",
    "required": ["id", "createdBy", "displayName"],
    "additionalProperties": False,
    "properties": {
        **ODATA,
        "id": {"type": "string"},
        "createdBy": GRAPH_APP_IDENTITY,
        "displayName": {"type": "string"},
    },
}


def graph_collection(item: dict) -> dict:
    return {
        "type": "object",
        "required": ["value"],
        "additionalProperties": False,
        "properties": {**ODATA, "value": {"type": "array", "items": item}},
    }


GRAPH_ERROR = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "innerError"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "innerError": {
                    "type": "object",
                    "required": ["date", "request-id", "client-request-id"],
                    "properties": {
                        "date": {"type": "string"},
                        "request-id": {"type": "string"},
                        "client-request-id": {"type": "string"},
                    },
                },
            },
        }
    },
}

# name in the official spec -> kept shape, for the spec comparison
BOX = {
    "Task": BOX_TASK,
    "Tasks": BOX_TASKS,
    "TaskAssignment": BOX_TASK_ASSIGNMENT,
    "TaskAssignments": BOX_TASK_ASSIGNMENTS,
    "ClientError": BOX_CLIENT_ERROR,
}
GRAPH = {
    "printTask": GRAPH_PRINT_TASK,
    "printTaskDefinition": GRAPH_PRINT_TASK_DEFINITION,
    "printTaskStatus": GRAPH_PRINT_TASK_STATUS,
    "appIdentity": GRAPH_APP_IDENTITY,
}
