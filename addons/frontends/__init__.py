"""Command-line front ends: the tapeproxy command (cli), ctl, lint, import, and the pytest plugin.

They reach the running addons only through assembly.Tapeproxy's typed accessors.
"""
