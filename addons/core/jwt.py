"""JSON Web Tokens as the simulation reads them: the claims only (unverified: tapeproxy stands in
for the services, it does not guard them)."""

from __future__ import annotations

import base64
import json


def claims(token: str) -> dict | None:
    """The payload of a JWT, or None for an opaque token."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 64 * 1024:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def bearer_claims(authorization: str) -> dict | None:
    """The claims of an Authorization header's bearer JWT, or None."""
    scheme, _, token = authorization.partition(" ")
    return claims(token.strip()) if scheme.lower() == "bearer" else None
