"""Box: error envelope and standard headers.

Errors look like Box's ClientError: {"type": "error", "status", "code", "message", "context_info",
"help_url", "request_id"}, with a box-request-id header.
"""

from __future__ import annotations

import email.utils
import json
import re
import secrets

# Error code of a replay miss, in this API's own spelling of codes.
MISS_CODE = "tapeproxy_no_recorded_interaction"
HOSTS = ("api.box.com", "upload.box.com", "upload.app.box.com", "app.box.com", "www.box.com")
# Box's other hosts, by suffix: downloads land on *.boxcloud.com (dl., public.), preflight checks
# hand out upload-<zone>.app.box.com, the event stream long-polls *.realtime.services.box.net, web
# links are on app.box.com and its enterprise subdomains, icons on *.boxcdn.net.
HOST_SUFFIXES = (".boxcloud.com", ".app.box.com", ".realtime.services.box.net", ".boxcdn.net")
_UPLOAD_HOST = re.compile(r"upload(?:-[a-z0-9-]+)?\.(?:app\.)?box\.com")


def is_upload_host(host: str) -> bool:
    """upload.box.com, upload.app.box.com, upload-las.app.box.com...: where Box takes file content."""
    return _UPLOAD_HOST.fullmatch(host.lower().rstrip(".")) is not None


# Request headers that change Box's answer: a recording that holds one matches only that value.
SIGNIFICANT_HEADERS = ("boxapi", "as-user", "if-match", "if-none-match")
HELP_URL = "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"
RATE_LIMIT_HEADERS = False  # Box sends only Retry-After
# The largest file an account takes: Enterprise's 50 GB (Box's "Upload limits": 250 MB for a free
# account up to 500 GB for Enterprise Advanced). An upload session declaring more gets 403
# file_size_limit_exceeded, one of Box's common errors.
MAX_FILE_SIZE = 50 * 1024**3
# A chunked upload session lives 7 days ("The lifetime of an upload session is 7 days").
UPLOAD_SESSION_DAYS = 7

# The lists under an item, and what they list: the records of these collections whose field names
# the item. What an item holds goes when it is deleted (a folder's items, a file's comments).
CHILD_LISTS: dict[str, tuple[tuple[str, ...], str]] = {
    "/folders/{folder_id}/items": (("folders", "files", "web_links"), "parent"),
    "/folders/{folder_id}/collaborations": (("collaborations",), "item"),
    "/files/{file_id}/comments": (("comments",), "item"),
    "/files/{file_id}/collaborations": (("collaborations",), "item"),
    "/groups/{group_id}/memberships": (("group_memberships",), "group"),
    "/groups/{group_id}/collaborations": (("collaborations",), "accessible_by"),
    "/users/{user_id}/memberships": (("group_memberships",), "user"),
}

# Neutral error name -> (status, Box's code, message, extra headers), after Box's common errors.
CATALOGUE = {
    "bad_request": (400, "bad_request", "Bad Request", ()),
    "unauthorized": (
        401,
        "unauthorized",
        "Unauthorized",
        (
            (
                "WWW-Authenticate",
                'Bearer realm="Service", error="invalid_token", '
                'error_description="The access token provided is invalid."',
            ),
        ),
    ),
    "token_expired": (
        401,
        "unauthorized",
        "Unauthorized",
        (
            (
                "WWW-Authenticate",
                'Bearer realm="Service", error="invalid_token", '
                'error_description="The access token provided has expired."',
            ),
        ),
    ),
    "forbidden": (403, "access_denied_insufficient_permissions", "Access denied - insufficient permission", ()),
    "not_found": (404, "not_found", "Not Found", ()),
    "method_not_allowed": (405, "method_not_allowed", "Method Not Allowed", ()),
    "conflict": (409, "conflict", "A resource with this value already exists", ()),
    "precondition_failed": (
        412,
        "precondition_failed",
        "The resource has been modified. Please retrieve the resource again and retry",
        (),
    ),
    "too_large": (413, "request_entity_too_large", "Request Entity Too Large", ()),
    "throttled": (429, "rate_limit_exceeded", "Request rate limit exceeded, please try again later", ()),
    "server_error": (500, "internal_server_error", "Internal Server Error", ()),
    "bad_gateway": (502, "bad_gateway", "Bad Gateway", ()),
    "service_unavailable": (503, "unavailable", "Unavailable", ()),
    "gateway_timeout": (504, "gateway_timeout", "Gateway Timeout", ()),
    "insufficient_storage": (507, "insufficient_storage", "Insufficient Storage", ()),
}
# The enterprise the simulation's made-up records belong to, and what of the spec's examples (Acme,
# example.com, one example user's settings) a live record of that enterprise has instead.
ENTERPRISE = {"type": "enterprise", "id": "818181", "name": "Contoso"}
EXAMPLE_NAMES = {"Acme Inc.": "Contoso", "ACME": "Contoso", "acme": "contoso", "example.com": "contoso.com"}
LIVED_IN: dict[str, object] = {
    "external_app_user_id": None,
    "hostname": "https://contoso.app.box.com/",
    "my_tags": [],
    "tracking_codes": [],
    "notification_email": None,
    "avatar_url": None,
    "is_platform_access_only": False,
}
# What a create's body names under one name and Box's answer shows under another, by collection:
# the answer holds what was sent (an invite is to the enterprise sent, an assignment is to the item).
SENT_AS: dict[str, dict[str, str]] = {
    "invites": {"enterprise": "invited_to"},
    "retention_policy_assignments": {"assign_to": "assigned_to", "policy_id": "retention_policy"},
    "legal_hold_policy_assignments": {"assign_to": "assigned_to", "policy_id": "legal_hold_policy"},
}
# Downscoped tokens (token exchange): what each scope Box grants lets the token do. A request is a
# read (GET), a rename or share (PUT), an upload (POST of content, folders, copies), a comment or a
# delete; root_readwrite does all of them, and a write outside these only root_readwrite does.
DOWNSCOPE_ACTIONS: dict[str, frozenset[str]] = {
    "root_readwrite": frozenset({"read", "rename", "share", "upload", "comment", "delete", "write"}),
    "root_readonly": frozenset({"read"}),
    **{
        s: frozenset({"read"})
        for s in (
            "item_read",
            "item_preview",
            "item_download",
            "base_explorer",
            "base_picker",
            "base_preview",
            "base_sidebar",
            "annotation_view_all",
            "annotation_view_self",
        )
    },
    "item_rename": frozenset({"rename"}),
    "item_share": frozenset({"share"}),
    "item_upload": frozenset({"upload"}),
    "base_upload": frozenset({"upload"}),
    "item_comment": frozenset({"comment"}),
    "annotation_edit": frozenset({"comment"}),
    "item_delete": frozenset({"delete"}),
}
INSUFFICIENT_SCOPE = "The request requires higher privileges than provided by the access token."
# Box answers a bad or expired token with an empty body and only WWW-Authenticate.
EMPTY_BODY_ERRORS = frozenset({"unauthorized", "token_expired"})


def error(
    status: int, code: str, message: str, request_headers=(), context: dict | None = None
) -> tuple[list[tuple[str, str]], bytes]:
    request_id = secrets.token_hex(6)  # in the body; the header has it behind a 0, as Box's do
    body = {
        "type": "error",
        "status": status,
        "code": code,
        "message": message,
        "context_info": context or {},
        "help_url": HELP_URL,
        "request_id": request_id,
    }
    return [("Content-Type", "application/json"), *standard_headers((), request_id)], json.dumps(body).encode()


def standard_headers(request_headers=(), request_id: str = "") -> list[tuple[str, str]]:
    """What Box sends with every answer of its API, errors included: its box-request-id and the Date."""
    return [
        ("box-request-id", "0" + (request_id or secrets.token_hex(16))),
        ("Cache-Control", "no-cache, no-store"),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("Date", email.utils.formatdate(usegmt=True)),
    ]
