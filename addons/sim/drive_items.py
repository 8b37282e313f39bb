"""OneDrive's items: by id, and each folder's children by name, so that a walk down a path, a
listing and a delete cost in proportion to what they touch, however deep or wide the tree is.

Names are indexed lower-cased (OneDrive's names ignore case: one folder cannot hold `a.txt` and
`A.txt`). Every walk is a loop, never a recursion: a tree thousands of levels deep (a state file
written before paths were limited) is served like any other.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class DriveItems(Mapping[str, dict]):
    def __init__(self) -> None:
        self._items: dict[str, dict] = {}
        self._children: dict[str, dict[str, str]] = {}  # folder id -> lower-cased name -> child id

    def __getitem__(self, item_id: str) -> dict:
        return self._items[item_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: dict) -> None:
        """A new item (the root has no parent); its name must be free in its folder."""
        self._items[item["id"]] = item
        if item.get("parent") is not None:
            self._children.setdefault(item["parent"], {})[item["name"].lower()] = item["id"]

    def remove(self, item_id: str) -> list[str]:
        """The item and everything under it, gone; their ids."""
        gone = [item_id, *(i["id"] for i in self.descendants(item_id))]
        item = self._items[item_id]
        siblings = self._children.get(item.get("parent") or "", {})
        siblings.pop(item["name"].lower(), None)
        for i in gone:
            del self._items[i]
            self._children.pop(i, None)
        return gone

    def child(self, folder: str, name: str) -> str | None:
        return self._children.get(folder, {}).get(name.lower())

    def children(self, folder: str) -> list[dict]:
        return [self._items[i] for i in self._children.get(folder, {}).values()]

    def child_count(self, folder: str) -> int:
        return len(self._children.get(folder, ()))

    def descendants(self, folder: str) -> Iterator[dict]:
        """Everything under folder, each folder's children before their own children."""
        pending = [folder]
        while pending:
            for i in self._children.get(pending.pop(), {}).values():
                yield self._items[i]
                if i in self._children:
                    pending.append(i)

    def names_to(self, item_id: str) -> list[str]:
        """The names on the way from the root down to the item (the root's own: none)."""
        names = []
        item = self._items[item_id]
        while item.get("parent") is not None:
            names.append(item["name"])
            item = self._items[item["parent"]]
        return names[::-1]
