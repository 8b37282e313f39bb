"""The wheel holds every package of the source tree (an editable install would hide a missing one)."""

import tomllib

from helpers import ROOT


def test_every_source_package_is_listed_for_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    source = {"tapeproxy" + "".join("." + part for part in d.relative_to(ROOT / "addons").parts)
              for d in [ROOT / "addons", *(ROOT / "addons").rglob("*")]
              if d.is_dir() and any(d.glob("*.py"))}
    assert source <= listed, f"missing from [tool.setuptools] packages: {sorted(source - listed)}"
    data = config["package-data"]
    for package in ("tapeproxy.cassettes", "tapeproxy.scenarios"):
        assert package in listed and data[package] == ["*.yaml"]
