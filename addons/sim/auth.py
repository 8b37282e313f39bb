"""Auth as the services do it: who may call, and the token endpoints that hand out tokens.

Graph print tasks accept only the application permission PrintTaskDefinition.ReadWrite.All:
a delegated token (a JWT with `scp`) or an app token without that role gets 403 (every other
Graph call is checked by addons/permissions.py). An opaque token is accepted (tapeproxy cannot see
inside it). No Authorization header: 401 in each API's shape. Microsoft identity's sign-in is
simulated whole, offline: client credentials, authorization code with PKCE, device code, refresh.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ..core import jwt, permissions, yamlfile
from ..core.profiles import box as box_profile
from . import app_registrations
from .http import ApiError, Reply, SimRequest, json_reply

PRINT_ROLE = "PrintTaskDefinition.ReadWrite.All"
GRAPH_RESOURCE = "00000003-0000-0000-c000-000000000000"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def bearer(req: SimRequest) -> str | None:
    value = req.header("authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def check_graph_print(req: SimRequest) -> None:
    token = bearer(req)
    if token is None:
        raise ApiError("unauthorized")
    claims = jwt.claims(token)
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
    claims = jwt.claims(token)
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


# --- Microsoft identity (Entra ID) -----------------------------------------------------------------
# Every registration is taken as consented to everything: client credentials get every application
# permission, a delegated sign-in every delegated one it asks for, and the user signs in at once
# (no page, no pending device code), so that a test drives the real flows without a person.

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
GRAPH_URI = "https://graph.microsoft.com/"
DEVICE_LOGIN = "https://microsoft.com/devicelogin"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")  # answered by the identity platform itself
TOKEN_LIFETIME = 3599
CODE_LIFETIME = 600  # Entra's authorization codes last 10 minutes
DEVICE_CODE_LIFETIME = 900
REFRESH_LIFETIME = 90 * 24 * 3600
DEFAULT_WORLD = Path(__file__).resolve().parent / "default-world.yaml"
# The global cloud's hosts all issue tokens as login.microsoftonline.com; a national cloud as itself.
GLOBAL_HOSTS = ("login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net")


@dataclass(frozen=True)
class SignedInUser:
    id: str
    upn: str
    name: str


@dataclass(frozen=True)
class DelegatedGrant:
    """What a user consented to, for one app: carried by an authorization code, a device code or a
    refresh token until it is redeemed."""

    tenant: str
    client_id: str
    user: SignedInUser
    scopes: tuple[str, ...]  # Graph's delegated permission names, without the resource prefix
    oidc: frozenset[str]  # of OIDC_SCOPES, those asked for
    issuer_host: str
    redirect_uri: str = ""
    code_challenge: str = ""
    challenge_method: str = ""
    nonce: str = ""


class SignInRefused(Exception):
    """An identity-platform error: `error` is OAuth's code, the description begins with AADSTS."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class _Issued:
    """Codes and refresh tokens this simulation handed out, each with its grant until it expires:
    the last KEPT of them, so that a long run does not grow without end. A redeemed single-use code
    is kept as redeemed, so that using it again is told apart from a code never issued."""

    KEPT = 10_000

    def __init__(self) -> None:
        self._items: OrderedDict[str, tuple[float, DelegatedGrant | None]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: str, grant: DelegatedGrant, lifetime: int) -> None:
        with self._lock:
            self._items[key] = (time.time() + lifetime, grant)
            while len(self._items) > self.KEPT:
                self._items.popitem(last=False)

    def state(self, key: str, *, redeem: bool) -> DelegatedGrant | str:
        """The grant, or why there is none: "unknown", "redeemed" or "expired". `redeem`: single use."""
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return "unknown"
            expires, grant = entry
            if grant is None:
                return "redeemed"
            if expires < time.time():
                del self._items[key]
                return "expired"
            if redeem:
                self._items[key] = (expires, None)
            return grant


_codes = _Issued()  # authorization codes and device codes
_refresh_tokens = _Issued()


def _b64json(data: dict) -> str:
    return _b64(json.dumps(data, separators=(",", ":")).encode())


def _jwt(claims: dict) -> str:
    """A JWT as Microsoft identity shapes them, unsigned (offline use only): no one here verifies."""
    header = {"typ": "JWT", "alg": "RS256", "kid": "tapeproxy-simulation"}
    return ".".join([_b64json(header), _b64json(claims), _b64(b"tapeproxy-simulation-signature")])


def graph_access_token(
    tenant: str,
    client_id: str,
    *,
    roles: list[str] | None = None,
    user: SignedInUser | None = None,
    scopes: tuple[str, ...] = (),
    lifetime: int = TOKEN_LIFETIME,
) -> str:
    """A Graph access token: app-only with `roles`, or delegated for `user` with `scp` (the
    permission names, space-separated, as Graph's v1 tokens carry them)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": "https://graph.microsoft.com",
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": client_id,
        "azp": client_id,
    }
    if user is None:
        oid = str(uuid.uuid5(uuid.NAMESPACE_URL, client_id))
        claims |= {"idtyp": "app", "oid": oid, "roles": roles or [], "sub": client_id}
    else:
        claims |= {
            "amr": ["pwd"],
            "idtyp": "user",
            "name": user.name,
            "oid": user.id,
            "scp": " ".join(scopes),
            "sub": _pairwise_subject(user, client_id),
            "unique_name": user.upn,
            "upn": user.upn,
        }
    claims |= {"tid": tenant, "ver": "1.0"}
    return _jwt(claims)


def _id_token(grant: DelegatedGrant, lifetime: int = TOKEN_LIFETIME) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": grant.client_id,
        "iss": f"https://{grant.issuer_host}/{grant.tenant}/v2.0",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "name": grant.user.name,
        "oid": grant.user.id,
        "preferred_username": grant.user.upn,
        "sub": _pairwise_subject(grant.user, grant.client_id),
        "tid": grant.tenant,
        "ver": "2.0",
    }
    if grant.nonce:
        claims["nonce"] = grant.nonce
    if "email" in grant.oidc:
        claims["email"] = grant.user.upn
    return _jwt(claims)


def _pairwise_subject(user: SignedInUser, client_id: str) -> str:
    """`sub` differs per app for one user, as Entra's does (oid is the same for all apps)."""
    return _b64(hashlib.sha256(f"{user.id}/{client_id}".encode()).digest())


@functools.cache
def _directory() -> tuple[SignedInUser, dict[str, SignedInUser]]:
    """The default world's Graph users by UPN, and the one /me is: sign-in needs no world, but the
    user it signs in is the one the demo's /me answers with."""
    data, _ = yamlfile.load(DEFAULT_WORLD)
    graph = data.get("graph") or {}
    users = {
        str(u["userPrincipalName"]).lower(): SignedInUser(
            str(u["id"]), str(u["userPrincipalName"]), str(u.get("displayName") or u["userPrincipalName"])
        )
        for u in graph.get("users") or []
        if isinstance(u, dict) and u.get("id") and u.get("userPrincipalName")
    }
    me = next(u for u in users.values() if u.id == str(graph.get("me")))
    return me, users


def signed_in_user(login_hint: str) -> SignedInUser:
    """Who signs in: the default world's user of that UPN, a made-up one for an unknown hint
    (a stable id, so that the same hint is the same user), or the world's /me without a hint."""
    me, users = _directory()
    if not login_hint:
        return me
    known = users.get(login_hint.lower())
    if known:
        return known
    local = login_hint.partition("@")[0]
    return SignedInUser(str(uuid.uuid5(uuid.NAMESPACE_URL, login_hint.lower())), login_hint, local)


def _requested_scopes(scope: str, client_id: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The Graph delegated permissions and the OIDC scopes a `scope` parameter asks for: Graph's
    given with or without its resource prefix, `.default` for every delegated permission the app
    may have (its registration's consented ones; for the default registration, all). A permission
    the registration has no consent for is refused as Entra refuses it (AADSTS65001)."""
    registered = app_registrations.graph_app(client_id)
    consented = registered.delegated if registered else tuple(sorted(permissions.delegated_names()))
    known = {name.lower(): name for name in permissions.delegated_names() if name not in OIDC_SCOPES}
    graph: list[str] = []
    oidc: set[str] = set()
    for item in scope.split():
        if item.lower() in OIDC_SCOPES:
            oidc.add(item.lower())
            continue
        name = item
        for prefix in (GRAPH_URI, GRAPH_RESOURCE + "/"):
            if name.lower().startswith(prefix):
                name = name[len(prefix) :]
        wanted = [n for n in consented if n not in OIDC_SCOPES] if name == ".default" else [known.get(name.lower(), "")]
        if not all(wanted):
            raise SignInRefused(
                "invalid_scope",
                f"AADSTS70011: The provided request must include a 'scope' input parameter. The provided value "
                f"for the input parameter 'scope' is not valid. The scope '{item}' does not exist.",
            )
        if registered and not set(wanted) <= set(registered.delegated):
            raise SignInRefused(
                "invalid_grant",
                f"AADSTS65001: The user or administrator has not consented to use the application with ID "
                f"'{registered.client_id}' named '{registered.display_name}'. Send an interactive authorization "
                "request for this user and resource.",
            )
        graph += [w for w in wanted if w not in graph]
    if not graph and not oidc:
        raise _missing("scope")
    return tuple(graph), frozenset(oidc)


def _missing(parameter: str) -> SignInRefused:
    return SignInRefused(
        "invalid_request", f"AADSTS900144: The request body must contain the following parameter: '{parameter}'."
    )


def _issuer_host(req: SimRequest) -> str:
    return "login.microsoftonline.com" if req.host in GLOBAL_HOSTS else req.host


def identity_authorize(req: SimRequest, tenant: str) -> Reply:
    """GET /{tenant}/oauth2/v2.0/authorize: the user signs in and consents at once; the browser is
    sent back to redirect_uri with a single-use code (or the error, once redirect_uri is known)."""
    q = req.query
    try:
        for parameter in ("client_id", "redirect_uri", "response_type"):
            if not q.get(parameter):
                raise _missing(parameter)
        if q["response_type"] != "code":
            raise SignInRefused(
                "unsupported_response_type",
                f"AADSTS700054: response_type '{q['response_type']}' is not enabled for the application; "
                "the simulation answers response_type=code.",
            )
    except SignInRefused as e:
        return _aad_error(e.error, e.description, e.status)
    answer = {"state": q["state"]} if "state" in q else {}
    try:
        method = q.get("code_challenge_method") or ("plain" if q.get("code_challenge") else "")
        if method not in ("", "S256", "plain"):
            raise SignInRefused(
                "invalid_request", f"AADSTS501491: The code_challenge_method '{method}' is not supported."
            )
        scopes, oidc = _requested_scopes(q.get("scope", ""), q["client_id"])
    except SignInRefused as e:
        return _redirect(q, {"error": e.error, "error_description": e.description, **answer})
    grant = DelegatedGrant(
        tenant,
        q["client_id"],
        signed_in_user(q.get("login_hint", "")),
        scopes,
        oidc,
        _issuer_host(req),
        redirect_uri=q["redirect_uri"],
        code_challenge=q.get("code_challenge", ""),
        challenge_method=method,
        nonce=q.get("nonce", ""),
    )
    code = "1.A" + secrets.token_urlsafe(96)
    _codes.add(code, grant, CODE_LIFETIME)
    return _redirect(q, {"code": code, **answer, "session_state": str(uuid.uuid4())})


def _redirect(query: dict[str, str], answer: dict[str, str]) -> Reply:
    """The authorization response, sent back as response_mode asks: in the query (the default for
    code), the fragment, or a form the browser posts."""
    uri, mode = query["redirect_uri"], query.get("response_mode", "query")
    headers = [("Cache-Control", "no-store, no-cache")]
    if mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}"/>' for k, v in answer.items()
        )
        page = (
            f'<html><body onload="document.forms[0].submit()"><form method="POST" action="{html.escape(uri)}">'
            f"{fields}</form></body></html>"
        )
        return Reply(200, [("Content-Type", "text/html; charset=utf-8"), *headers], page.encode())
    separator = "#" if mode == "fragment" else ("&" if "?" in uri else "?")
    return Reply(302, [("Location", uri + separator + urlencode(answer)), *headers], b"")


def identity_devicecode(req: SimRequest, tenant: str) -> Reply:
    """POST /{tenant}/oauth2/v2.0/devicecode: a device code the user has already approved, so the
    SDK's first poll gets the tokens (interval 1, so that it polls soon)."""
    form = req.form()
    try:
        if not form.get("client_id"):
            raise _missing("client_id")
        scopes, oidc = _requested_scopes(form.get("scope", ""), form["client_id"])
    except SignInRefused as e:
        return _aad_error(e.error, e.description, e.status)
    user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
    device_code = "DAQABIQEAAAB" + secrets.token_urlsafe(96)
    grant = DelegatedGrant(tenant, form["client_id"], signed_in_user(""), scopes, oidc, _issuer_host(req))
    _codes.add(device_code, grant, DEVICE_CODE_LIFETIME)
    return json_reply(
        200,
        {
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": DEVICE_LOGIN,
            "expires_in": DEVICE_CODE_LIFETIME,
            "interval": 1,
            "message": f"To sign in, use a web browser to open the page {DEVICE_LOGIN} "
            f"and enter the code {user_code} to authenticate.",
        },
        [("Cache-Control", "no-store, no-cache")],
    )


def identity_token(req: SimRequest, tenant: str) -> Reply:
    """POST /{tenant}/oauth2/v2.0/token: client credentials for Graph, and the delegated grants
    (authorization code with PKCE, device code, refresh token)."""
    form = req.form()
    grants = {
        "client_credentials": _client_credentials,
        "authorization_code": _redeem_authorization_code,
        DEVICE_CODE_GRANT: _redeem_device_code,
        "refresh_token": _redeem_refresh_token,
    }
    grant_type = form.get("grant_type", "")
    try:
        if not grant_type:
            raise _missing("grant_type")
        if grant_type not in grants:
            raise SignInRefused(
                "unsupported_grant_type", f"AADSTS70003: The app requested an unsupported grant type '{grant_type}'."
            )
        return grants[grant_type](form, tenant)
    except SignInRefused as e:
        return _aad_error(e.error, e.description, e.status)


def _client_credentials(form: dict[str, str], tenant: str) -> Reply:
    if not form.get("client_id") or not (form.get("client_secret") or form.get("client_assertion")):
        raise SignInRefused(
            "invalid_client",
            "AADSTS7000216: 'client_assertion', 'client_secret' or "
            "'request' is required for the 'client_credentials' grant type.",
            401,
        )
    scope = form.get("scope", "")
    if "graph.microsoft.com" not in scope and GRAPH_RESOURCE not in scope:
        raise SignInRefused("invalid_scope", f"AADSTS70011: The provided value for scope {scope!r} is not valid.")
    registered = app_registrations.graph_app(form["client_id"])
    roles = list(registered.application) if registered else sorted(permissions.application_names())
    token = graph_access_token(tenant, form["client_id"], roles=roles)
    return json_reply(
        200,
        {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME, "access_token": token},
        [("Cache-Control", "no-store, no-cache")],
    )


def _redeemed(issued: _Issued, key: str, parameter: str, client_id: str, *, redeem: bool) -> DelegatedGrant:
    """The grant a code or refresh token carries, or the identity platform's refusal."""
    if not key:
        raise _missing(parameter)
    if not client_id:
        raise _missing("client_id")
    grant = issued.state(key, redeem=redeem)
    if grant == "redeemed":
        raise SignInRefused(
            "invalid_grant",
            "AADSTS54005: OAuth2 Authorization code was already redeemed, please retry with a new valid code "
            "or use an existing refresh token.",
        )
    if grant == "expired":
        raise SignInRefused(
            "expired_token" if parameter == "device_code" else "invalid_grant",
            "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. "
            "Send a new interactive authorization request for this user and resource.",
        )
    if not isinstance(grant, DelegatedGrant):
        raise SignInRefused("invalid_grant", "AADSTS9002313: Invalid request. Request is malformed or invalid.")
    if grant.client_id != client_id:
        raise SignInRefused(
            "invalid_grant", f"AADSTS70000: The provided '{parameter}' was issued to another application."
        )
    return grant


def _redeem_authorization_code(form: dict[str, str], tenant: str) -> Reply:
    grant = _redeemed(_codes, form.get("code", ""), "code", form.get("client_id", ""), redeem=True)
    if form.get("redirect_uri", "") != grant.redirect_uri:
        raise SignInRefused(
            "invalid_grant",
            f"AADSTS500112: The reply address '{form.get('redirect_uri', '')}' does not match the reply address "
            f"'{grant.redirect_uri}' provided when requesting Authorization code.",
        )
    if grant.code_challenge and not _pkce_matches(form.get("code_verifier", ""), grant):
        raise SignInRefused(
            "invalid_grant",
            "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        )
    return _delegated_tokens(grant, form)


def _pkce_matches(verifier: str, grant: DelegatedGrant) -> bool:
    if grant.challenge_method == "S256":
        verifier = _b64(hashlib.sha256(verifier.encode()).digest())
    return bool(verifier) and hmac.compare_digest(verifier, grant.code_challenge)


def _redeem_device_code(form: dict[str, str], tenant: str) -> Reply:
    grant = _redeemed(_codes, form.get("device_code", ""), "device_code", form.get("client_id", ""), redeem=True)
    return _delegated_tokens(grant, form)


def _redeem_refresh_token(form: dict[str, str], tenant: str) -> Reply:
    """Entra's refresh tokens are not single use; each use gives a new one too. `scope`, when given,
    is what the new access token is for (consent covers every delegated permission)."""
    grant = _redeemed(
        _refresh_tokens, form.get("refresh_token", ""), "refresh_token", form.get("client_id", ""), redeem=False
    )
    if form.get("scope"):
        scopes, oidc = _requested_scopes(form["scope"], grant.client_id)
        grant = dataclasses.replace(grant, scopes=scopes, oidc=oidc)
    return _delegated_tokens(dataclasses.replace(grant, nonce=""), form)


def _delegated_tokens(grant: DelegatedGrant, form: dict[str, str]) -> Reply:
    """The token response: an access token for Graph, an id_token for openid, a refresh token for
    offline_access, and client_info (the user's and tenant's ids MSAL keys its cache by) when asked."""
    oidc = [s for s in OIDC_SCOPES if s in grant.oidc]
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join([GRAPH_URI + s for s in grant.scopes] + oidc),
        "expires_in": TOKEN_LIFETIME,
        "ext_expires_in": TOKEN_LIFETIME,
        "access_token": graph_access_token(
            grant.tenant,
            grant.client_id,
            user=grant.user,
            scopes=grant.scopes + tuple(s for s in oidc if s != "offline_access"),
        ),
    }
    if "offline_access" in grant.oidc:
        body["refresh_token"] = "1.AQ" + secrets.token_urlsafe(192)
        _refresh_tokens.add(body["refresh_token"], grant, REFRESH_LIFETIME)
    if "openid" in grant.oidc:
        body["id_token"] = _id_token(grant)
    if form.get("client_info") == "1":
        body["client_info"] = _b64json({"uid": grant.user.id, "utid": grant.tenant})
    return json_reply(200, body, [("Cache-Control", "no-store, no-cache")])


def _aad_error(error: str, description: str, status: int = 400) -> Reply:
    number = re.match(r"AADSTS(\d+)", description)
    return json_reply(
        status,
        {
            "error": error,
            "error_description": description,
            "error_codes": [int(number.group(1))] if number else [],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        [("Cache-Control", "no-store, no-cache")],
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
    app = app_registrations.box_app(form.get("client_id", ""))
    if app is not None:  # the world's app: its tokens may do only what its scopes allow
        access = box_scoped_token(list(app.scopes), None, user)
    else:
        access = "T9cE5asGnuyYCCqIZFoWjFHvNbvVqHjl" + secrets.token_hex(8) + (f".u{user}" if user else "")
    body: dict[str, Any] = {
        "access_token": access,
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
        claims = jwt.claims(form.get("assertion", "")) or {}
        subject = str(claims.get("sub", "")) if claims.get("box_sub_type") == "user" else ""
    else:
        subject = ""
    return subject if subject.isdigit() else ""


def box_subject(req: SimRequest) -> str:
    """The Box user a request's token was issued for ("" for the enterprise, or a token from elsewhere)."""
    return _token_user(bearer(req) or "")


def box_subject_of(authorization: str) -> str:
    """The same, from an Authorization header's value."""
    scheme, _, token = authorization.partition(" ")
    return _token_user(token.strip()) if scheme.lower() == "bearer" else ""


def _token_user(token: str) -> str:
    limits = _downscoped(token)
    if limits is not None:
        return limits[2]
    user = token.rpartition(".u")[2] if ".u" in token else ""
    return user if user.isdigit() else ""


def box_scoped_token(scopes: list[str], item: tuple[str, str] | None = None, user: str = "") -> str:
    """A Box token that may do only what its scopes allow (on `item`, (kind, id), if named; as `user`,
    a Box user id, if named): what a token exchange hands out and `tapeproxy token --api box` mints."""
    payload = json.dumps({"s": scopes, "r": "/".join(item) if item else None, "u": user}, separators=(",", ":"))
    return DOWNSCOPED + _b64(payload.encode()) + "." + secrets.token_hex(8)


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
    token = box_scoped_token(scopes, item, _token_user(subject))
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
