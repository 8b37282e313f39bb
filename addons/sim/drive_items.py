"""The one OneDrive drive, in the store: what it is (`graph:drive/about`), its items by id
(`graph:drive/items`), and each folder's children by name (`graph:drive/children('{folder id}')`,
lower-cased name -> child id), so that a walk down a path, a listing and a delete cost in proportion
to what they touch, however deep or wide the tree is. The index is records of the store like the
items, so a request refused half-way undoes both, and a state file's database keeps both.

Names are indexed lower-cased (OneDrive's names ignore case: one folder cannot hold `a.txt` and
`A.txt`). Every walk is a loop, never a recursion: a tree thousands of levels deep (a state file
written before paths were limited) is served like any other.

Every method reads or changes the store in a transaction of its own, or in the request's when one
is open (they join it). Items handed out are copies: a change is `put` back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .store import Store

PREFIX = "graph:drive/"
ABOUT, ITEMS = PREFIX + "about", PREFIX + "items"
DEFAULT = {"id": "b!TWVnYW4gQm93ZW4ncyBPbmVEcml2ZQ", "name": "OneDrive", "owner": "Megan Bowen", "rootId": "01ROOT"}


def _children_of(folder: str) -> str:
    return f"{PREFIX}children('{folder}')"


class DriveItems(Mapping[str, dict]):
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- the drive ---------------------------------------------------------------------------------
    def about(self) -> dict:
        """The drive's id, name, owner and root item's id."""
        with self.store.transaction() as tx:
            return tx.get(ABOUT, "drive") or dict(DEFAULT)

    def set_about(self, about: dict) -> None:
        with self.store.transaction() as tx:
            tx.put(ABOUT, "drive", about)

    # -- items -------------------------------------------------------------------------------------
    def __getitem__(self, item_id: str) -> dict:
        with self.store.transaction() as tx:
            item = tx.get(ITEMS, item_id)
        if item is None:
            raise KeyError(item_id)
        return item

    def __contains__(self, item_id: object) -> bool:
        with self.store.transaction() as tx:
            return isinstance(item_id, str) and tx.has(ITEMS, item_id)

    def __iter__(self) -> Iterator[str]:
        with self.store.transaction() as tx:
            return iter(tx.keys(ITEMS))

    def __len__(self) -> int:
        return self.store.count(ITEMS)

    def all(self) -> list[dict]:
        with self.store.transaction() as tx:
            return tx.scan(ITEMS)

    def blobs(self) -> list[str]:
        """The content every file names (no copies of the items: a save and each change ask)."""
        with self.store.transaction() as tx:
            return [blob for blob in tx.column(ITEMS, "blob") if blob]

    def file_count(self) -> int:
        with self.store.transaction() as tx:
            return sum(1 for folder in tx.column(ITEMS, "folder") if not folder)

    def add(self, item: dict) -> None:
        """A new item (the root has no parent); its name must be free in its folder."""
        with self.store.transaction() as tx:
            tx.put(ITEMS, item["id"], item)
            if item.get("parent") is not None:
                tx.put(_children_of(item["parent"]), item["name"].lower(), {"id": item["id"]})

    def replace(self, item: dict) -> None:
        """An item changed in place: its name and folder are the same."""
        with self.store.transaction() as tx:
            tx.put(ITEMS, item["id"], item)

    def move(self, item: dict, name: str, parent: str) -> None:
        """An item renamed or moved (its name free in the folder it goes to: the caller checked)."""
        with self.store.transaction() as tx:
            old = tx.get(ITEMS, item["id"]) or item
            tx.delete(_children_of(old["parent"]), old["name"].lower())
            moved = {**item, "name": name, "parent": parent}
            tx.put(ITEMS, item["id"], moved)
            tx.put(_children_of(parent), name.lower(), {"id": item["id"]})

    def remove(self, item_id: str) -> list[str]:
        """The item and everything under it, gone; their ids."""
        with self.store.transaction() as tx:
            gone = [item_id, *(i["id"] for i in self.descendants(item_id))]
            item = self[item_id]
            if item.get("parent") is not None:
                tx.delete(_children_of(item["parent"]), item["name"].lower())
            for i in gone:
                tx.delete(ITEMS, i)
                for name in tx.keys(_children_of(i)):
                    tx.delete(_children_of(i), name)
            return gone

    def child(self, folder: str, name: str) -> str | None:
        with self.store.transaction() as tx:
            entry = tx.get(_children_of(folder), name.lower())
        return entry["id"] if entry else None

    def _child_ids(self, folder: str) -> list[str]:
        with self.store.transaction() as tx:
            return [c["id"] for c in tx.scan(_children_of(folder))]

    def children(self, folder: str) -> list[dict]:
        return [self[i] for i in self._child_ids(folder)]

    def child_count(self, folder: str) -> int:
        return self.store.count(_children_of(folder))

    def descendants(self, folder: str) -> Iterator[dict]:
        """Everything under folder, each folder's children before their own children."""
        pending = [folder]
        while pending:
            for i in self._child_ids(pending.pop()):
                item = self[i]
                yield item
                if item.get("folder"):
                    pending.append(i)

    def names_to(self, item_id: str) -> list[str]:
        """The names on the way from the root down to the item (the root's own: none)."""
        names = []
        item = self[item_id]
        while item.get("parent") is not None:
            names.append(item["name"])
            item = self[item["parent"]]
        return names[::-1]
