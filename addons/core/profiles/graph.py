"""Microsoft Graph: error envelope and standard headers.

Errors look like Graph's own: {"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}, echoing the client's client-request-id, with a request-id header.
Of `context`, only `inner_code` is kept: Graph's detailed code, `innerError.code` (pathIsTooLong).
"""

from __future__ import annotations

import email.utils
import json
import time
import uuid

from ..matching import header_value

# The tenant the simulation's generated records belong to (names, mail, SharePoint hosts).
TENANT_NAME = "Contoso"
TENANT_DOMAIN = "contoso.com"
# Error code of a replay miss, in this API's own spelling of codes.
MISS_CODE = "tapeproxyNoRecordedInteraction"
# The API; print documents' uploads; usage reports' CSV downloads (the 302 of GET /reports/get...()).
REPORTS_HOST = "reports.office.com"
HOSTS = ("graph.microsoft.com", "print.print.microsoft.com", REPORTS_HOST)
VERSIONS = ("v1.0", "beta")  # the first segment of Graph's paths
# Where drive items' content moves: downloadUrl and uploadUrl point at the tenant's SharePoint host
# (OneDrive for Business) or 1drv.com (personal OneDrive), so recordings and the simulation hold them.
HOST_SUFFIXES: tuple[str, ...] = (".sharepoint.com", ".1drv.com")
# Request headers that change Graph's answer: a recording that holds one matches only that value.
SIGNIFICANT_HEADERS = ("consistencylevel", "prefer", "if-match")
# Graph also sends RateLimit-Limit/-Remaining/-Reset on throttled workloads.
RATE_LIMIT_HEADERS = True
# The largest file OneDrive and SharePoint take, by upload session: 250 GB.
MAX_FILE_SIZE = 250 * 1024**3
# Actions Graph answers 202 Accepted, no body ("If successful, this method returns 202 Accepted"
# on their reference pages), by the type they are bound to; other actions without a return type 204.
ACCEPTED_ACTIONS: dict[str, frozenset[str]] = {
    "microsoft.graph.user": frozenset({"sendMail", "exportPersonalData"}),
    "microsoft.graph.event": frozenset({"accept", "decline", "tentativelyAccept", "forward", "cancel"}),
    "microsoft.graph.message": frozenset({"send", "reply", "replyAll", "forward"}),
    "microsoft.graph.post": frozenset({"reply", "forward"}),
    "microsoft.graph.conversationThread": frozenset({"reply"}),
    "microsoft.graph.call": frozenset({"answer", "reject", "redirect", "transfer", "changeScreenSharingRole"}),
    "microsoft.graph.driveItem": frozenset({"copy"}),
    "microsoft.graph.team": frozenset({"archive", "unarchive", "clone"}),
}
# Properties the directory keeps unique, by the type whose records hold them: a create or update that
# repeats one is Graph's 400 Request_BadRequest with an ObjectConflict detail naming the property.
UNIQUE_PROPERTIES: dict[str, tuple[str, ...]] = {
    "microsoft.graph.user": ("userPrincipalName", "mailNickname"),
    "microsoft.graph.group": ("mailNickname",),
}
# Directory queries Graph runs only as "advanced queries", with ConsistencyLevel: eventual: these
# filter operators and functions, $search, $count=true, and $orderby with $filter.
ADVANCED_FILTERS = ("ne", "not", "endswith")


def eventual(headers) -> bool:
    """Does the request ask for Graph's advanced queries (ConsistencyLevel: eventual)?"""
    return any(k.lower() == "consistencylevel" and v.strip().lower() == "eventual" for k, v in headers)


# Types whose records Graph answers with an @odata.etag (W/"..."), changing with every change.
ETAG_TYPES = ("microsoft.graph.outlookItem", "microsoft.graph.todoTask", "microsoft.graph.todoTaskList")


def preferences(headers) -> set[str]:
    """The Prefer header's preferences, lower-cased, quotes dropped: {"return=minimal",
    "outlook.body-content-type=text"}."""
    out = set()
    for k, v in headers:
        if k.lower() == "prefer":
            out |= {p.strip().lower().replace('"', "") for p in v.split(",") if p.strip()}
    return out


# Types whose PATCH Graph answers 204 No Content (the directory, identity and policy resources,
# teams and channels, by their reference pages); the workloads (Outlook, To Do, Planner, files,
# print, education) answer 200 with the entity.
UPDATED_WITHOUT_CONTENT = (
    "microsoft.graph.directoryObject",
    "microsoft.graph.policyBase",
    "microsoft.graph.policyDeletableItem",
    "microsoft.graph.identityProviderBase",
    "microsoft.graph.identityApiConnector",
    "microsoft.graph.identityUserFlow",
    "microsoft.graph.identityUserFlowAttribute",
    "microsoft.graph.identityUserFlowAttributeAssignment",
    "microsoft.graph.organizationalBrandingProperties",
    "microsoft.graph.authenticationMethodConfiguration",
    "microsoft.graph.featureRolloutPolicy",
    "microsoft.graph.domain",
    "microsoft.graph.groupSetting",
    "microsoft.graph.oAuth2PermissionGrant",
    "microsoft.graph.schemaExtension",
    "microsoft.graph.accessReviewInstanceDecisionItem",
    "microsoft.graph.shiftPreferences",
    "microsoft.graph.team",
    "microsoft.graph.channel",
)
# Creates Graph does asynchronously: 202 Accepted, no body, Location the operation that makes it and
# Content-Location what it makes (POST /teams).
CREATED_LATER = frozenset({"microsoft.graph.team"})
# Actions that make or move an entity and answer it 201 Created (a message moved, copied, or the
# draft of a reply), by the type they are bound to.
CREATED_BY_ACTIONS: dict[str, frozenset[str]] = {
    "microsoft.graph.message": frozenset({"move", "copy", "createReply", "createReplyAll", "createForward"}),
    "microsoft.graph.mailFolder": frozenset({"move", "copy"}),
}
# Single contained entities whose id is their owner's (a user's presence).
OWNER_ID_ENTITIES = frozenset({"presence"})
# Types whose `$value` (raw content) Graph documents though the CSDL does not mark them HasStream.
VALUE_TYPES = frozenset({"microsoft.graph.attachment"})
# Usage reports: their functions answer 302 to a CSV on REPORTS_HOST. The CSV's columns where
# the reference documents them ("" for the rest: the two every report has).
REPORT_ROOTS = frozenset({"microsoft.graph.reportRoot", "microsoft.graph.copilotReportRoot"})
REPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "": ("Report Refresh Date", "Report Period"),
    "getEmailActivityCounts": ("Report Refresh Date", "Send", "Receive", "Read", "Report Date", "Report Period"),
}

_WWW_AUTH = (
    "WWW-Authenticate",
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
    'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"',
)
# What Graph types its JSON answers as.
JSON_CONTENT_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
# References kept on both sides (the world's `$ref`): adding a member to a group makes the group
# show in the member's memberOf, and so on (Graph's directory documents each pair).
INVERSE_REFERENCES: dict[str, str] = {
    "members": "memberOf",
    "memberOf": "members",
    "owners": "ownedObjects",
    "ownedObjects": "owners",
    "manager": "directReports",
    "directReports": "manager",
}
# Graph's 404 for a missing record, by the workload its type belongs to (most derived first).
NOT_FOUND = {
    "microsoft.graph.directoryObject": (
        "Request_ResourceNotFound",
        "Resource '{id}' does not exist or one of its queried reference-property objects are not present.",
    ),
    "microsoft.graph.outlookItem": ("ErrorItemNotFound", "The specified object was not found in the store."),
    "microsoft.graph.mailFolder": ("ErrorItemNotFound", "The specified object was not found in the store."),
    "microsoft.graph.calendar": ("ErrorItemNotFound", "The specified object was not found in the store."),
    "microsoft.graph.todoTaskList": ("ErrorItemNotFound", "The specified object was not found in the store."),
    "microsoft.graph.todoTask": ("ErrorItemNotFound", "The specified object was not found in the store."),
    "": ("itemNotFound", "The requested resource does not exist."),
}
# Outlook's well-known folder names, which Graph takes in place of a mail folder's id.
WELL_KNOWN_FOLDERS = ("inbox", "sentitems", "drafts", "deleteditems", "archive", "junkemail", "outbox")

# Neutral error name -> (status, Graph's code, message, extra headers), after Graph's documented errors.
CATALOGUE = {
    "bad_request": (400, "invalidRequest", "Invalid request.", ()),
    "unauthorized": (401, "InvalidAuthenticationToken", "Access token is empty.", (_WWW_AUTH,)),
    "token_expired": (
        401,
        "InvalidAuthenticationToken",
        "Lifetime validation failed, the token is expired.",
        (_WWW_AUTH,),
    ),
    "forbidden": (403, "accessDenied", "Either scp or roles claim need to be present in the token.", ()),
    "not_found": (404, "itemNotFound", "The resource could not be found.", ()),
    "method_not_allowed": (405, "notAllowed", "The HTTP method is not allowed for this resource.", ()),
    "conflict": (409, "nameAlreadyExists", "The specified item name already exists.", ()),
    "precondition_failed": (
        412,
        "resourceModified",
        "The resource being updated has changed since the caller last read it.",
        (),
    ),
    # Neither API documents a code for 413; Graph's front end answers in Azure's spelling.
    "too_large": (413, "RequestEntityTooLarge", "The request body is too large.", ()),
    "throttled": (429, "TooManyRequests", "Please retry again later.", ()),
    "server_error": (500, "generalException", "An unspecified error has occurred.", ()),
    "bad_gateway": (502, "BadGateway", "Bad Gateway.", ()),
    "service_unavailable": (
        503,
        "serviceNotAvailable",
        "The service is temporarily unavailable. Try again after the time in Retry-After.",
        (),
    ),
    "gateway_timeout": (504, "GatewayTimeout", "The gateway timed out.", ()),
    "insufficient_storage": (507, "quotaLimitReached", "The maximum storage quota has been reached.", ()),
}
EMPTY_BODY_ERRORS: frozenset[str] = frozenset()

# A token without the permission a call needs: each workload refuses in its own words (the
# directory's, Exchange's, OneDrive's and SharePoint's, Teams'), as Microsoft's docs show them.
_DIRECTORY_DENIED = ("Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
_EXCHANGE_DENIED = ("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
_FILES_DENIED = ("accessDenied", "Access denied")
_WORKLOAD_BY_SEGMENT = {
    **dict.fromkeys(
        (
            "messages",
            "mailfolders",
            "events",
            "calendar",
            "calendars",
            "calendarview",
            "calendargroups",
            "contacts",
            "contactfolders",
            "mailboxsettings",
            "inferenceclassification",
            "outlook",
            "sendmail",
            "findmeetingtimes",
            "todo",
        ),
        _EXCHANGE_DENIED,
    ),
    **dict.fromkeys(("drive", "drives", "sites", "shares", "onenote"), _FILES_DENIED),
}
_TEAMS_SEGMENTS = ("teams", "chats", "teamwork", "joinedteams", "appcatalogs")


def permission_denied(path: str, needed: list[str], held: list[str], kind: str) -> tuple[str, str]:
    """Graph's 403 code and message for a call the token's permissions do not allow: by the
    workload the path belongs to (the first segment after /me or /users/{id} that names one)."""
    parts = [p.lower().partition("(")[0] for p in path.split("/") if p and p.lower() not in ("v1.0", "beta")]
    for segment in parts:
        if segment in _TEAMS_SEGMENTS:  # Teams names what was missing and what was held
            return "Forbidden", (
                f"Missing {'scope' if kind == 'delegated' else 'role'} permissions on the request. API requires one "
                f"of '{', '.join(needed)}'. {'Scopes' if kind == 'delegated' else 'Roles'} on the request "
                f"'{', '.join(held)}'. Resource specific consent grants on the request ''."
            )
        if segment in _WORKLOAD_BY_SEGMENT:
            return _WORKLOAD_BY_SEGMENT[segment]
    if parts[:1] == ["print"]:  # Universal Print's own words
        return "accessDenied", (
            f"The token does not have a permission this operation allows: {' or '.join(needed)}."
            if needed
            else f"{kind.capitalize()} permissions are not supported by this API."
        )
    return _DIRECTORY_DENIED


# Where the answer was served from, as Graph says it (the scale unit and instance are ours).
AGS_DIAGNOSTIC = (
    '{"ServerInfo":{"DataCenter":"West US 2","Slice":"E","Ring":"1","ScaleUnit":"001","RoleInstance":"TAPEPROXY-SIM"}}'
)


def standard_headers(request_headers=(), request_id: str = "") -> list[tuple[str, str]]:
    """What Graph sends with every answer, errors included: its request-id, the client's
    client-request-id echoed (else the request-id), its diagnostic header and the Date."""
    request_id = request_id or str(uuid.uuid4())
    return [
        ("Cache-Control", "no-cache"),
        ("request-id", request_id),
        ("client-request-id", header_value(request_headers, "client-request-id") or request_id),
        ("x-ms-ags-diagnostic", AGS_DIAGNOSTIC),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("Date", email.utils.formatdate(usegmt=True)),
    ]


def error(
    status: int, code: str, message: str, request_headers=(), context: dict | None = None
) -> tuple[list[tuple[str, str]], bytes]:
    headers = standard_headers(request_headers)
    ids = dict(headers)
    date = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    inner = {"date": date, "request-id": ids["request-id"], "client-request-id": ids["client-request-id"]}
    if context and context.get("inner_code"):
        inner = {"code": str(context["inner_code"]), **inner}
    body: dict = {"error": {"code": code, "message": message, "innerError": inner}}
    if context and isinstance(context.get("details"), list):  # the directory's ObjectConflict and the like
        body["error"]["details"] = context["details"]
    return [("Content-Type", "application/json"), *headers], json.dumps(body).encode()
