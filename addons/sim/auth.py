"""Auth as the services do it: who may call, and the token endpoints that hand out tokens.

Graph print tasks accept only the application permission PrintTaskDefinition.ReadWrite.All:
a delegated token (a JWT with `scp`) or an app token without that role gets 403. An opaque token
is accepted (tapeproxy cannot see inside it). No Authorization header: 401 in each API's shape.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from ..core.profiles import box as box_profile
from .http import ApiError, Reply, SimRequest, json_reply

PRINT_ROLE = "PrintTaskDefinition.ReadWrite.All"
GRAPH_RESOURCE = "00000003-0000-0000-c000-000000000000"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_claims(token: str) -> dict | None:
    """The payload of a JWT (unverified: this is a simulation), or None for an opaque token."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def bearer(req: SimRequest) -> str | None:
    value = req.header("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_graph_print(req: SimRequest) -> None:
    token = bearer(req)
    if token is None:
        raise ApiError("unauthorized")
    claims = jwt_claims(token)
    if claims is None:
        return
    if isinstance(claims.get("exp"), (int, float)) and claims["exp"] < time.time():
        raise ApiError("token_expired")
    if claims.get("scp"):
        raise ApiError(
            "forbidden",
            f"Delegated permissions are not supported by this API; it needs the application permission {PRINT_ROLE}.",
        )
    roles = claims.get("roles") or []
    if PRINT_ROLE not in roles:
        raise ApiError("forbidden", f"The token does not have the {PRINT_ROLE} application permission.")


def check_bearer(req: SimRequest) -> None:
    """Any bearer token will do (tapeproxy cannot verify one), but one there must be."""
    token = bearer(req)
    if token is None:
        raise ApiError("unauthorized")
    claims = jwt_claims(token)
    if claims and isinstance(claims.get("exp"), (int, float)) and claims["exp"] < time.time():
        raise ApiError("token_expired")


def check_box(req: SimRequest) -> None:
    """A token there must be, not revoked; a downscoped one may do only what its scopes allow, on
    the item it was made for."""
    token = bearer(req)
    if token is None or _revoked.has(token):
        raise ApiError("unauthorized")
    limits = _downscoped(token)
    if limits is None:
        return
    scopes, item, _ = limits
    action = _box_action(req)
    allowed = any(action in box_profile.DOWNSCOPE_ACTIONS.get(s, ()) for s in scopes)
    named = _box_item(req.path)
    if not allowed or (item and named and named != item):
        raise ApiError(
            "forbidden",
            box_profile.INSUFFICIENT_SCOPE,
            [
                (
                    "WWW-Authenticate",
                    f'Bearer realm="Service", error="insufficient_scope", '
                    f'error_description="{box_profile.INSUFFICIENT_SCOPE}"',
                )
            ],
            code="insufficient_scope",
            status=403,
        )


DOWNSCOPED = "1!"  # how Box's downscoped tokens begin; what follows here says what the token may do


def _downscoped(token: str) -> tuple[list[str], tuple[str, str] | None, str] | None:
    """The scopes, the item ((kind, id), or None) and the user ("" for none) of a downscoped token
    this simulation issued, or None for any other token (one it cannot read does all its app may)."""
    if not token.startswith(DOWNSCOPED):
        return None
    payload = token[len(DOWNSCOPED) :].partition(".")[0]
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), list):
        return None
    item = data.get("r")
    kind, _, key = item.partition("/") if isinstance(item, str) else ("", "", "")
    return [str(s) for s in data["s"]], ((kind, key) if key else None), str(data.get("u") or "")


def _box_item(path: str) -> tuple[str, str] | None:
    """The file or folder a Box path is about (`/2.0/files/12/...` -> (files, 12))."""
    parts = [p for p in path.split("/") if p]
    if "2.0" in parts:
        parts = parts[parts.index("2.0") + 1 :]
    if len(parts) >= 2 and parts[0] in ("files", "folders") and parts[1] != "content":
        return parts[0], parts[1]
    return None


def _box_action(req: SimRequest) -> str:
    parts = [p for p in req.path.split("/") if p]
    if req.method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    if req.method == "DELETE":
        return "delete"
    if req.method == "PUT" and parts[-2:-1] in (["files"], ["folders"]):
        return "share" if b"shared_link" in req.body and b'"name"' not in req.body else "rename"
    if req.method == "POST":
        if parts[-1:] == ["comments"]:
            return "comment"
        if parts[-1:] in (["content"], ["folders"], ["copy"], ["upload_sessions"]) or "upload_sessions" in parts:
            return "upload"
    return "write"


class _Revoked:
    """Tokens revoked with /oauth2/revoke, refused from then on (the last REVOKED_KEPT of them)."""

    KEPT = 10_000

    def __init__(self) -> None:
        self._tokens: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, token: str) -> None:
        with self._lock:
            self._tokens[token] = None
            while len(self._tokens) > self.KEPT:
                self._tokens.popitem(last=False)

    def has(self, token: str) -> bool:
        with self._lock:
            return token in self._tokens


_revoked = _Revoked()


def app_token(tenant: str, client_id: str, roles: list[str], lifetime: int = 3599) -> str:
    """An app-only Graph access token, shaped like Microsoft identity's (unsigned: offline use only)."""
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "kid": "tapeproxy-simulation"}
    claims = {
        "aud": "https://graph.microsoft.com",
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": client_id,
        "azp": client_id,
        "idtyp": "app",
        "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, client_id)),
        "roles": roles,
        "sub": client_id,
        "tid": tenant,
        "ver": "1.0",
    }
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(b"tapeproxy-simulation-signature")]
    )


def identity_token(req: SimRequest, tenant: str) -> Reply:
    """login.microsoftonline.com/{tenant}/oauth2/v2.0/token: client credentials for Graph."""
    form = req.form()
    if form.get("grant_type") != "client_credentials":
        return _aad_error(
            "unsupported_grant_type",
            f"The grant type {form.get('grant_type')!r} is not supported by the simulation; use client_credentials.",
        )
    if not form.get("client_id") or not (form.get("client_secret") or form.get("client_assertion")):
        return _aad_error(
            "invalid_client",
            "AADSTS7000216: 'client_assertion', 'client_secret' or "
            "'request' is required for the 'client_credentials' grant type.",
            401,
        )
    scope = form.get("scope", "")
    if "graph.microsoft.com" not in scope and GRAPH_RESOURCE not in scope:
        return _aad_error("invalid_scope", f"AADSTS70011: The provided value for scope {scope!r} is not valid.")
    token = app_token(tenant, form["client_id"], [PRINT_ROLE])
    return json_reply(
        200,
        {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token},
        [("Cache-Control", "no-store, no-cache")],
    )


def _aad_error(error: str, description: str, status: int = 400) -> Reply:
    return json_reply(
        status,
        {
            "error": error,
            "error_description": description,
            "error_codes": [],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
    )


def identity_metadata(req: SimRequest, tenant: str) -> Reply | None:
    """What MSAL reads before asking for a token: instance discovery and OpenID configuration."""
    base = f"https://{req.host}"
    if req.path.endswith("/discovery/instance"):
        return json_reply(
            200,
            {
                "tenant_discovery_endpoint": f"{base}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": req.host, "preferred_cache": req.host, "aliases": [req.host]}],
            },
        )
    if req.path.endswith("/.well-known/openid-configuration"):
        t = tenant if tenant not in ("common", "organizations") else "{tenantid}"
        return json_reply(
            200,
            {
                "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/{t}/v2.0",
                "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "tenant_region_scope": "NA",
                "cloud_instance_name": "microsoftonline.com",
            },
        )
    return None


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
BOX_GRANTS = {
    "client_credentials",
    "refresh_token",
    "authorization_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
    TOKEN_EXCHANGE,
}


def box_token(req: SimRequest) -> Reply:
    """api.box.com/oauth2/token: every grant Box offers returns a bearer token."""
    form = req.form()
    grant = form.get("grant_type", "")
    if grant not in BOX_GRANTS:
        return json_reply(
            400,
            {
                "error": "unsupported_grant_type",
                "error_description": f"Grant type {grant!r} is not supported; one of " + ", ".join(sorted(BOX_GRANTS)),
            },
        )
    needed = {
        "refresh_token": "refresh_token",
        "authorization_code": "code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer": "assertion",
    }.get(grant)
    if needed and not form.get(needed):
        return json_reply(400, {"error": "invalid_request", "error_description": f"Missing {needed} parameter"})
    if grant == TOKEN_EXCHANGE:
        return _box_token_exchange(form)
    if grant != "refresh_token" and not form.get("client_id"):
        return json_reply(400, {"error": "invalid_client", "error_description": "The client credentials are invalid"})
    user = _box_user_subject(form, grant)
    body: dict[str, Any] = {
        "access_token": "T9cE5asGnuyYCCqIZFoWjFHvNbvVqHjl" + secrets.token_hex(8) + (f".u{user}" if user else ""),
        "expires_in": 3600,
        "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        "restricted_to": [],
        "token_type": "bearer",
    }
    if grant in ("refresh_token", "authorization_code"):
        body["refresh_token"] = "J7rxTiWOHMoSC1isKZKBZWizoRXjkQzig5C6jFgCVJ9bUnsUfGMinKBDLZWP9BgR" + secrets.token_hex(
            4
        )
    return json_reply(200, body)


def _box_user_subject(form: dict[str, str], grant: str) -> str:
    """The user a token is for: a client-credentials grant's box_subject_id (box_subject_type user),
    or a JWT assertion's sub (box_sub_type user); "" for the enterprise's service account."""
    if grant == "client_credentials" and form.get("box_subject_type") == "user":
        subject = form.get("box_subject_id", "")
    elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
        claims = jwt_claims(form.get("assertion", "")) or {}
        subject = str(claims.get("sub", "")) if claims.get("box_sub_type") == "user" else ""
    else:
        subject = ""
    return subject if subject.isdigit() else ""


def box_subject(req: SimRequest) -> str:
    """The Box user a request's token was issued for ("" for the enterprise, or a token from elsewhere)."""
    return _token_user(bearer(req) or "")


def _token_user(token: str) -> str:
    limits = _downscoped(token)
    if limits is not None:
        return limits[2]
    user = token.rpartition(".u")[2] if ".u" in token else ""
    return user if user.isdigit() else ""


def _box_token_exchange(form: dict[str, str]) -> Reply:
    """A downscoped token: the subject token's rights narrowed to `scope`, on `resource` if named."""
    subject, scopes = form.get("subject_token", ""), form.get("scope", "").split()
    if not subject or form.get("subject_token_type") != ACCESS_TOKEN_TYPE:
        return _oauth_error(400, "invalid_request", f"A subject_token of subject_token_type {ACCESS_TOKEN_TYPE}")
    if _revoked.has(subject):
        return _oauth_error(401, "invalid_grant", "The subject_token is not valid: it was revoked")
    if not scopes:
        return _oauth_error(400, "invalid_scope", "The scope parameter is missing")
    unknown = [s for s in scopes if s not in box_profile.DOWNSCOPE_ACTIONS]
    held = _downscoped(subject)
    if unknown or (held is not None and not set(scopes) <= set(held[0])):
        wrong = unknown or sorted(set(scopes) - set(held[0] if held else ()))
        return _oauth_error(401, "invalid_scope", f"The requested scope is not valid: {' '.join(wrong)}")
    item = _box_item(form.get("resource", "").partition("?")[0].removeprefix("https://api.box.com"))
    if form.get("resource") and item is None:
        return _oauth_error(400, "invalid_resource", "The resource is not the URL of a Box file or folder")
    user = _token_user(subject)
    payload = json.dumps({"s": scopes, "r": "/".join(item) if item else None, "u": user}, separators=(",", ":"))
    token = DOWNSCOPED + _b64(payload.encode()) + "." + secrets.token_hex(8)
    restricted = [
        {"scope": s, "object": {"id": item[1], "type": item[0][:-1], "etag": "0", "sequence_id": "0"}}
        for s in scopes
        if item
    ]
    return json_reply(
        200,
        {
            "access_token": token,
            "expires_in": 3600,
            "issued_token_type": ACCESS_TOKEN_TYPE,
            "restricted_to": restricted,
            "token_type": "bearer",
        },
    )


def box_revoke(req: SimRequest) -> Reply:
    """api.box.com/oauth2/revoke: the app's id and secret, and the token, refused from then on."""
    form = req.form()
    if not form.get("client_id") or not form.get("client_secret"):
        return _oauth_error(400, "invalid_client", "The client credentials are invalid")
    if form.get("token"):
        _revoked.add(form["token"])
    return Reply(200, [], b"")


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return json_reply(status, {"error": error, "error_description": description})
