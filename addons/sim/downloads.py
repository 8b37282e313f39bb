"""Download URLs the simulation hands out (Box's dl.boxcloud.com, SharePoint's download.aspx):
each names the item and carries a token signed for that item's current content, as the services'
own pre-authenticated URLs do. So a URL stops working when its file is deleted or its content
replaced, and no content can be fetched by knowing its digest.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .world import World


def token(world: World, item_id: str, blob: str) -> str:
    return hmac.new(world.url_secret, f"{item_id}/{blob}".encode(), hashlib.sha256).hexdigest()[:40]


def valid(world: World, item_id: str, blob: str, given: str) -> bool:
    return hmac.compare_digest(token(world, item_id, blob), given)
