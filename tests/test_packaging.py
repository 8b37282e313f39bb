"""The wheel holds every package of the source tree (an editable install would hide a missing one)."""

import subprocess
import sys
import tomllib

from helpers import ROOT


def test_every_source_package_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    source = {
        "tapeproxy" + "".join("." + part for part in d.relative_to(ROOT / "addons").parts)
        for d in [ROOT / "addons", *(ROOT / "addons").rglob("*")]
        if d.is_dir() and any(d.glob("*.py"))
    }
    assert source <= listed, f"missing from [tool.setuptools] packages: {sorted(source - listed)}"
    data = config["package-data"]
    for package in ("tapeproxy.bundled_cassettes", "tapeproxy.bundled_scenarios"):
        assert package in listed and data[package] == ["*.yaml"]


def test_the_cli_imports_only_the_mitmproxy_addons_it_runs_and_the_package_still_works_whole():
    code = """
import sys
from tapeproxy.runtime.lean_import import lean_addons_package
lean_addons_package()
import tapeproxy.runtime.master
from mitmproxy.addons import proxyserver
loaded = sorted(m for m in sys.modules if m.startswith("mitmproxy.addons."))
assert "mitmproxy.addons.anticache" not in loaded, loaded
assert len(loaded) <= 8, loaded
import mitmproxy.addons
assert len(mitmproxy.addons.default_addons()) > 20  # the first use of the package's own name runs it
assert "mitmproxy.addons.anticache" in sys.modules
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_no_module_imports_a_private_name_of_another():
    """Modules share helpers through public names (the README's contributing section): an import of
    another module's `_name` couples to what that module may change freely. mitmproxy's own private
    layers, which two addons must reach, are the only exception."""
    import ast

    found = []
    for path in sorted((ROOT / "addons").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and not (node.module or "").startswith("mitmproxy"):
                found += [
                    f"{path.relative_to(ROOT)}:{node.lineno} {a.name}"
                    for a in node.names
                    if a.name[0] == "_" and not a.name.startswith("__")
                ]
    assert found == [], found
