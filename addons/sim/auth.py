"""Auth as the services do it: who may call, and the token endpoints that hand out tokens.

Graph print tasks accept only the application permission PrintTaskDefinition.ReadWrite.All:
a delegated token (a JWT with `scp`) or an app token without that role gets 403. An opaque token
is accepted (tapeproxy cannot see inside it). No Authorization header: 401 in each API's shape.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from typing import Any

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
    if bearer(req) is None:
        raise ApiError("unauthorized")


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


BOX_GRANTS = {
    "client_credentials",
    "refresh_token",
    "authorization_code",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
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
    if grant != "refresh_token" and not form.get("client_id"):
        return json_reply(400, {"error": "invalid_client", "error_description": "The client credentials are invalid"})
    body: dict[str, Any] = {
        "access_token": "T9cE5asGnuyYCCqIZFoWjFHvNbvVqHjl" + secrets.token_hex(8),
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
