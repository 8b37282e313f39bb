"""A world file's seeds of the store, and the store written back as seeds (an export a person can read).

Graph: under `graph:`, any entity set of v1.0 (`users`, `groups`, `applications`...) as a list of
records. A record holds its contained navigation properties inline (a user's `messages`,
`events`, `mailFolders`, `todo: {lists: [...]}`), and its references as ids (a group's
`members: [id, ...]`, a user's `manager: id`); `me:` names the user `/me` is. Box: under `box:`,
any collection Box creates records in (`folders`, `web_links`, `comments`, `collaborations`,
`groups`, `group_memberships`, `webhooks`...), each a list of records. Every record is checked
against the spec's model: an unknown property, a wrong type or enum value stops the start with
`file:line`.
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Any

from ..core import yamlfile
from ..core.spec import loaded
from . import box_world, graph_world
from .store import Transaction

_STEP = re.compile(r"([^/(]+)(?:\('([^']*)'\))?")


def seed_graph(check, world, doc: dict, hand_made: set[str], sets: dict[str, str]) -> None:
    """`hand_made`: the keys the resource modules read (sim/registry.py), not the store's; `sets`:
    the entity sets it seeds, with their types (registry.seedable)."""
    spec = loaded.graph()
    links: list[tuple] = []
    with world.store.transaction() as tx:
        for name, records in doc.items():
            if name in hand_made:
                continue
            if name not in sets:
                close = yamlfile.closest(name, [*sets, *hand_made])
                raise check.fail(
                    ("graph", name),
                    f"graph.{name} is not an entity set of Graph v1.0",
                    f"did you mean {close!r}?" if close else "",
                )
            collection = graph_world.PREFIX + name
            _graph_records(check, tx, spec, collection, sets[name], records, ("graph", name), links, "")
        for owner_collection, owner_key, nav, target, target_type, where in links:
            found = next(
                (
                    f"{graph_world.PREFIX}{s}"
                    for s in world.graph.sets_for(target_type)
                    if tx.has(f"{graph_world.PREFIX}{s}", target)
                ),
                None,
            )
            if found is None:
                raise check.fail(where, f"{nav}: no record in the world has the id {target!r}")
            world.graph.link(tx, owner_collection, owner_key, nav, found, target)


def _graph_records(check, tx: Transaction, spec, collection, type_name, records, where, links, folder) -> None:
    if not isinstance(records, list):
        raise check.fail(where, f"expected a list of records, got {yamlfile.kind(records)}")
    tx.put(graph_world.LISTED, collection, {})
    for i, raw in enumerate(records):
        at = (*where, i)
        record = dict(check.mapping(raw, at, "a record"))
        kind = graph_world.type_of(record, type_name)
        if kind not in spec.types:
            raise check.fail((*at, "@odata.type"), f"{record['@odata.type']} is not a type of Graph v1.0")
        key = "~" if folder == "~" else str(record.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, f"{collection}/{i}"))
        navs = spec.navs(kind)
        nested = {k: v for k, v in record.items() if k in navs}
        plain = {k: v for k, v in record.items() if k not in navs}
        for name, value in plain.items():  # one at a time, to point at the property's own line
            problem = spec.check_object(kind, {name: value}, writing=False) if name != "id" else None
            if problem:
                raise check.fail((*at, name), f"{name}: {problem[1]}")
        if key != "~":
            plain["id"] = key
        if folder and folder != "~":
            plain["parentFolderId"] = folder
        tx.put(collection, key, plain)
        address = graph_world.address(collection, key)
        tx.put(graph_world.LISTED, f"{graph_world.PREFIX}{address}/", {})
        for nav, value in nested.items():
            target, contained = navs[nav]
            element = target.removeprefix("Collection(").removesuffix(")")
            inner = f"{graph_world.PREFIX}{address}/{nav}"
            if contained and target.startswith("Collection("):
                in_folder = ""
                if nav == "messages" and kind == "microsoft.graph.mailFolder":  # the mailbox's messages
                    inner, in_folder = f"{collection.rsplit('/', 1)[0]}/messages", key
                _graph_records(check, tx, spec, inner, element, value, (*at, nav), links, in_folder)
            elif contained:
                _graph_records(check, tx, spec, inner, element, [value], (*at, nav), links, "~")
            else:
                ids = value if isinstance(value, list) else [value]
                for j, target_id in enumerate(ids):
                    if not isinstance(target_id, (str, int)) or isinstance(target_id, bool):
                        raise check.fail((*at, nav), f"{nav} lists ids of records, got {yamlfile.kind(target_id)}")
                    links.append((collection, key, nav, str(target_id), element, (*at, nav, j)))


@functools.cache
def box_collections() -> dict[str, dict]:
    """The collections a world file can seed under `box:`: those Box creates records in (a POST to
    /{name}, and a GET of /{name}/{id} that answers one), each with the schema of its records."""
    spec = loaded.box()
    out = {}
    for name in dict.fromkeys(r.op["path"].split("/")[1] for r in spec.routes):
        post, _, _ = spec.find("POST", f"/{name}")
        get, _, _ = spec.find("GET", f"/{name}/1")
        if post is not None and post.op["path"] == f"/{name}" and get is not None and get.op.get("response"):
            out[name] = get.op["response"]
    return out


def graph_collections() -> dict[str, str]:
    """The collections a world file can seed under `graph:`: Graph's entity sets, each with its type."""
    return loaded.graph().sets


def seed_box(check, world, doc: dict, hand_made: set[str], collections: dict[str, dict]) -> None:
    """As seed_graph; `collections`: those it seeds, with their records' schemas (registry.seedable)."""
    spec = loaded.box()
    with world.store.transaction() as tx:
        for name, records in doc.items():
            if name in hand_made:
                continue
            if name in box_collections() and name not in collections:
                raise check.fail(
                    ("box", name),
                    f"box.{name} are kept by a resource module, in its own shape: give them in its keys "
                    f"({', '.join('box.' + k for k in sorted(hand_made))}; docs/world.md)",
                )
            if name not in collections:
                close = yamlfile.closest(name, [*collections, *hand_made])
                raise check.fail(
                    ("box", name),
                    f"box.{name} is not a collection Box creates records in",
                    f"did you mean {close!r}?" if close else "",
                )
            if not isinstance(records, list):
                raise check.fail(("box", name), f"expected a list of records, got {yamlfile.kind(records)}")
            response = collections[name]
            schema = spec.flat(response)
            known = set(schema.get("properties", {}))
            for i, raw in enumerate(records):
                at = ("box", name, i)
                record = dict(check.mapping(raw, at, "a record"))
                for k in record:
                    if k not in known:
                        close = yamlfile.closest(k, known)
                        raise check.fail(
                            (*at, k),
                            f"{k!r} is not a property of Box's {name[:-1]}",
                            f"did you mean {close!r}?" if close else "",
                        )
                key = record.get("id")
                if not isinstance(key, (str, int)) or isinstance(key, bool) or not str(key).isdigit():
                    raise check.fail(at, "every Box record needs an id, a numeric string")
                record["id"] = str(key)
                problems = spec.check_value(record, response, "")
                problems = [p for p in problems if p.get("reason") != "missing_parameter"]
                if problems:
                    raise check.fail(at, problems[0]["message"])
                made = world.box.made_up(name, record["id"]) or {}
                tx.put(box_world.PREFIX + name, record["id"], {**made, **record})


def export(store, hand_made: tuple[str, ...] = ()) -> dict[str, Any]:
    """The store as seeds: Graph's records nested under what holds them, references as ids.
    `hand_made`: prefixes of the resource modules' collections, which they export themselves."""
    graph: dict[str, Any] = {}
    box: dict[str, Any] = {}
    dump = store.dump()
    by_name = {
        name: records
        for name, records in dump.items()
        if "~" not in name.split(":", 1)[1][:1] and not name.startswith(hand_made)
    }
    for name, records in by_name.items():
        api, _, where = name.partition(":")
        if api == "box":
            box[where] = records
            continue
        steps = _STEP.findall(where)
        holder: dict[str, Any] = graph
        for step, key in steps[:-1]:
            items = holder.setdefault(step, [] if key else {})
            if key:
                found = next((r for r in items if isinstance(r, dict) and r.get("id") == key), None)
                if found is None:
                    found = {"id": key}
                    items.append(found)
                holder = found
            else:
                holder = items
        last = steps[-1][0] if steps else where
        values = [r["id"] if "ref" in r else r for r in records]
        if records and records[0].get("id") is None and len(records) == 1 and "ref" not in records[0]:
            holder.setdefault(last, {}).update(records[0])  # a single contained entity: a user's todo
        elif isinstance(holder.get(last), list):
            known = {r.get("id") for r in holder[last] if isinstance(r, dict)}
            holder[last].extend(v for v in values if not isinstance(v, dict) or v.get("id") not in known)
        else:
            holder[last] = values
    return {"graph": graph, "box": box}
