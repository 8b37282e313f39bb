"""Where the Box files module (sim/box_files.py) keeps its files in the store, for it and for the
modules that read them: a task is on a file (sim/box_tasks.py), a folder lists its files.

Its records are the module's, each a file with the content it names (`blob`), its parent folder's
id, etag and version, as a world file's `box.files` holds them; the generic world's `box:files`
holds API-shaped records and is not where these are.
"""

from __future__ import annotations

from .store import Transaction

FILES = "box:files+content"


def get(tx: Transaction, file_id: str) -> dict | None:
    return tx.get(FILES, file_id)


def exists(tx: Transaction, file_id: str) -> bool:
    return tx.has(FILES, file_id)


def put(tx: Transaction, record: dict) -> None:
    tx.put(FILES, record["id"], record)


def in_folder(tx: Transaction, folder: str) -> list[dict]:
    """The files a folder holds (not those in the trash)."""
    return tx.scan(FILES, lambda f: f.get("parent", "0") == folder and f.get("item_status") != "trashed")


def named(tx: Transaction, folder: str, name: str) -> list[dict]:
    """The files in a folder with this name (Box's names ignore case): a walk, copying only those."""
    lowered = name.lower()
    return tx.scan(
        FILES,
        lambda f: (
            f.get("parent", "0") == folder
            and f.get("name", "").lower() == lowered
            and f.get("item_status") != "trashed"
        ),
    )


def mini(tx: Transaction, file_id: str) -> dict:
    """A file as other resources name it (a task's item): Box's mini representation."""
    f = tx.get(FILES, file_id) or {"id": file_id}
    out = {
        "id": f["id"],
        "etag": str(f.get("etag", "1")),
        "type": "file",
        "sequence_id": str(f.get("sequence_id", "1")),
        "name": f.get("name", ""),
        "sha1": f.get("sha1", ""),
    }
    if f.get("file_version"):
        out["file_version"] = {"type": "file_version", **f["file_version"]}
    return out
