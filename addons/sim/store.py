"""The world's store: records by collection and id, for both APIs, behind a narrow interface.

    with store.transaction() as tx:      # one request's reads and writes, under one lock
        tx.get(collection, id) / tx.put(collection, id, record) / tx.delete(collection, id)
        tx.scan(collection) / tx.collections(prefix)

Collections are named by the API and where the records live: `graph:users`,
`graph:users('42')/messages`, `box:folders`. Reads come from memory (a scan of 1,000 records is a
dict walk); with a database (`--state`), each transaction's changes are written when it ends, in
one SQLite transaction in WAL mode, so a change costs in proportion to the change and a change
is on disk before its answer goes out (a process killed with -9 loses nothing acknowledged).

Records are plain JSON values; `put` stores a copy and `get` hands out one, so nothing reaches
into the store around it. Nothing here knows an API.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    collection TEXT NOT NULL,
    id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (collection, id)
);
"""


class Store:
    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self._data: dict[str, dict[str, dict]] = {}
        self._seq = 0  # insertion order, kept across restarts (lists come out as they were made)
        self._order: dict[tuple[str, str], int] = {}
        self._db: sqlite3.Connection | None = None
        self._tx: Transaction | None = None

    # -- durability --------------------------------------------------------------------------------
    def attach(self, path: str | Path, keep: bool = True) -> bool:
        """Keep the store in the SQLite database at `path`. With `keep`, records it holds replace
        what is in memory (True is returned); else, or when it holds none, what is in memory is
        written to it (a new state, a reset)."""
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")  # durable over a killed process; fsync at checkpoints
        db.executescript(SCHEMA)
        if not keep:
            db.execute("DELETE FROM records")
        rows = db.execute("SELECT collection, id, seq, body FROM records ORDER BY seq").fetchall()
        with self.lock:
            self._db = db
            if rows:
                # A collection the database has never held keeps what is in memory: a state file
                # written before its resource moved to the store still has it in its YAML.
                new = {c: records for c, records in self._data.items() if records}
                self._data, order = {}, self._order
                self._order = {}
                for collection, key, seq, body in rows:
                    self._data.setdefault(collection, {})[key] = json.loads(body)
                    self._order[(collection, key)] = seq
                    new.pop(collection, None)
                self._seq = max(seq for _, _, seq, _ in rows)
                for collection, records in new.items():
                    self._data[collection] = records
                    for key in sorted(records, key=lambda k: order[(collection, k)]):
                        self._seq += 1
                        self._order[(collection, key)] = self._seq
                self._write({(c, k) for c, records in new.items() for k in records})
                return True
            self._write({(c, k) for c, records in self._data.items() for k in records})
            return False

    def detach(self) -> None:
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def replace_all(self, other: Store) -> None:
        """Become `other` (a world reset): in memory, and in the database if one is attached."""
        with self.lock:
            gone = {(c, k) for c, records in self._data.items() for k in records}
            self._data = _copy(other._data)
            self._order = dict(other._order)
            self._seq = other._seq
            if self._db is not None:
                self._db.execute("BEGIN")
                self._db.execute("DELETE FROM records")
                self._db.execute("COMMIT")
                self._write({(c, k) for c, records in self._data.items() for k in records} | gone)

    def _write(self, keys: set[tuple[str, str]]) -> None:
        if self._db is None or not keys:
            return
        db = self._db
        db.execute("BEGIN")
        try:
            for collection, key in keys:
                record = self._data.get(collection, {}).get(key)
                if record is None:
                    db.execute("DELETE FROM records WHERE collection=? AND id=?", (collection, key))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?)",
                        (collection, key, self._order[(collection, key)], json.dumps(record, ensure_ascii=False)),
                    )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    # -- transactions ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """One request's work: nested calls join the transaction already open in this thread. One
        that ends in an exception (the API's error, half-way) is undone: none of it was answered."""
        with self.lock:
            if self._tx is not None:
                yield self._tx
                return
            tx = self._tx = Transaction(self)
            try:
                yield tx
            except BaseException:
                tx.undo()
                raise
            finally:
                self._tx = None
                self._write(tx.changed)

    def count(self, collection: str) -> int:
        with self.lock:
            return len(self._data.get(collection, {}))

    def names(self) -> list[str]:
        with self.lock:
            return list(self._data)

    def dump(self) -> dict[str, list[dict]]:
        """Every collection's records, in order (an export, the control API)."""
        with self.lock:
            return {c: _copy(list(records.values())) for c, records in self._data.items() if records}


class Transaction:
    """The only way to read or change the store (see the module's docstring)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.changed: set[tuple[str, str]] = set()
        self._before: dict[tuple[str, str], tuple[dict | None, int | None]] = {}  # (record, order) first seen

    def _remember(self, collection: str, key: str) -> None:
        if (collection, key) not in self._before:
            s = self._store
            self._before[(collection, key)] = (s._data.get(collection, {}).get(key), s._order.get((collection, key)))

    def undo(self) -> None:
        """Every record this transaction changed back as it was (and nothing left to write)."""
        s = self._store
        for (collection, key), (record, order) in self._before.items():
            if record is None:
                records = s._data.get(collection, {})
                records.pop(key, None)
                s._order.pop((collection, key), None)
                if not records:
                    s._data.pop(collection, None)
            else:
                records = s._data.setdefault(collection, {})
                records[key] = record
                s._order[(collection, key)] = order if order is not None else s._seq
                # in the order the records were made, as before (a record put back went last)
                s._data[collection] = dict(sorted(records.items(), key=lambda kv: s._order[(collection, kv[0])]))
        self.changed.clear()

    def get(self, collection: str, key: str) -> dict | None:
        record = self._store._data.get(collection, {}).get(key)
        return _copy(record) if record is not None else None

    def has(self, collection: str, key: str) -> bool:
        return key in self._store._data.get(collection, {})

    def put(self, collection: str, key: str, record: dict) -> None:
        s = self._store
        self._remember(collection, key)
        records = s._data.setdefault(collection, {})
        if (collection, key) not in s._order:
            s._seq += 1
            s._order[(collection, key)] = s._seq
        records[key] = _copy(record)
        self.changed.add((collection, key))

    def delete(self, collection: str, key: str) -> bool:
        s = self._store
        records = s._data.get(collection)
        if not records or key not in records:
            return False
        self._remember(collection, key)
        del records[key]
        s._order.pop((collection, key), None)
        if not records:
            del s._data[collection]
        self.changed.add((collection, key))
        return True

    def scan(self, collection: str, where: Callable[[dict], bool] | None = None) -> list[dict]:
        """The collection's records in the order they were made (copies); with `where`, those it keeps,
        tested before they are copied (it must only read what it is given)."""
        records = self._store._data.get(collection, {}).values()
        return _copy([r for r in records if where(r)] if where is not None else list(records))

    def column(self, collection: str, field: str) -> list:
        """Each record's value of `field` (None where it has none), in order, without copying the
        records: what a walk over every record needs of each (the content they name, their sizes)."""
        return [
            _copy(v) if isinstance(v := r.get(field), (dict, list)) else v
            for r in self._store._data.get(collection, {}).values()
        ]

    def keys(self, collection: str) -> list[str]:
        return list(self._store._data.get(collection, {}))

    def first_key(self, collection: str) -> str | None:
        """The key of the collection's oldest record (without listing them all)."""
        return next(iter(self._store._data.get(collection, {})), None)

    def collections(self, prefix: str) -> list[str]:
        """The names of the collections that start with `prefix` (what a deleted record contained)."""
        return [c for c in self._store._data if c.startswith(prefix)]


def _copy(value):
    """A copy of a JSON value (several times faster than copy.deepcopy, which a scan would feel)."""
    if isinstance(value, dict):
        return {k: _copy(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) if isinstance(v, (dict, list)) else v for v in value]
    return value
