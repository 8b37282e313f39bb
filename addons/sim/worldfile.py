"""What the resource modules share in reading their part of a world file (`file:line` errors)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import digestfiles, yamlfile

if TYPE_CHECKING:
    from .world import World


def list_of(check: yamlfile.Checker, value: Any, keys: tuple) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise check.fail(keys, f"expected a list, got {yamlfile.kind(value)}")
    return value


def id_of(check: yamlfile.Checker, item: dict, keys: tuple) -> str:
    """The item's id, as a string (and so in the item)."""
    value = item.get("id")
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
        raise check.fail(keys, "every object needs an id")
    item["id"] = str(value)
    return item["id"]


def content_of(check: yamlfile.Checker, world: World, item: dict, keys: tuple, blobs: Path | None) -> bytes:
    """A file's content: inline, a blob beside the world file, or a line naming the file; kept
    in the world's blobs, and the item names it."""
    text = item.pop("content", None)
    if text is not None:
        if not isinstance(text, str):
            raise check.fail(keys + ("content",), f"content must be text, got {yamlfile.kind(text)}")
        content = text.encode()
    elif item.get("blob"):
        try:
            content = digestfiles.read(blobs, str(item["blob"]))
        except digestfiles.Unusable as e:
            raise check.fail(keys + ("blob",), f"blob: {e}") from None
    else:  # downloadable all the same, and its sha1 is that of what a download returns
        content = f"tapeproxy: simulated content of {item.get('name') or item['id']}\n".encode()
    item["blob"] = world.put_blob(content)
    return content


# -- the JSON Schema of a module's part (sim/world_schema.py gathers them) -------------------------
TEXT = {"type": "string"}
ID = {"type": ["string", "integer"]}  # YAML reads 12345 as a number; the loaders take either
WHEN = {"type": ["string", "null"]}  # a date and time, or none
CONTENT = {"type": "string", "description": "a file's content, as text"}
BLOB = {"type": "string", "description": "SHA-256 of content stored in <world file>.blobs/"}


def records(properties: dict, required: tuple[str, ...] = ("id",), description: str = "") -> dict:
    """A list of records, each an object with these properties."""
    items = {"type": "object", "required": list(required), "properties": properties}
    return {"type": "array", **({"description": description} if description else {}), "items": items}
