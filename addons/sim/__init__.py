"""The stateful simulation: Graph print tasks and Box tasks as a world that reacts.

Pure (no mitmproxy): a `SimRequest` goes in, a `Reply` (or None: not ours, let the cassettes
answer) comes out. `addons/simulation.py` is the mitmproxy side.
"""
