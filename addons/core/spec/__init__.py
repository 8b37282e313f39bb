"""What the official specs say about Box and Graph, derived once into compact files that ship with
the package (derive.py makes them from ../shared/specs; tests/test_spec_model.py fails when they are
stale), read lazily the first time a request needs them."""
