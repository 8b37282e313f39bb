"""The simulated world's pure pieces, in-process: a request in, a reply out (the end-to-end tests
through a running proxy are test_simulation.py, test_files_*.py)."""

from tapeproxy.sim.drive_items import DriveItems


def test_drive_items_walk_a_deep_tree_in_loops_and_find_children_by_name_ignoring_case():
    items = DriveItems()
    items.add({"id": "root", "name": "root", "folder": True})
    parent = "root"
    for i in range(5000):  # far deeper than Python's recursion limit
        items.add({"id": f"d{i}", "name": "Dir", "parent": parent, "folder": True})
        parent = f"d{i}"
    items.add({"id": "f", "name": "Notes.TXT", "parent": parent})
    assert items.child(parent, "notes.txt") == "f" and items.child(parent, "other") is None
    assert len(items.names_to("f")) == 5001 and items.child_count("d4999") == 1
    assert sum(1 for _ in items.descendants("root")) == 5001
    gone = items.remove("d0")
    assert len(gone) == 5001 and set(items) == {"root"} and items.children("root") == []
