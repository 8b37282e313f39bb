"""Import only the mitmproxy addons tapeproxy runs.

`mitmproxy.addons/__init__.py` imports all ~30 of mitmdump's default addons, and any mitmproxy
master imports that package: about a third of a second before the first request can be served.
`lean_addons_package()` registers the package without running its __init__, so importing one
addon module imports just that module. The first use of a name the __init__ defines (say,
`default_addons`) runs it for real, so nothing that needs the whole package sees a difference.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys

PACKAGE = "mitmproxy.addons"


def lean_addons_package() -> None:
    """Call before importing mitmproxy.master; does nothing once the package is imported."""
    if PACKAGE in sys.modules:
        return
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return
    module = importlib.util.module_from_spec(spec)
    loader = spec.loader
    search = list(spec.submodule_search_locations)

    def is_submodule(name: str) -> bool:
        return importlib.machinery.PathFinder.find_spec(f"{PACKAGE}.{name}", search) is not None

    def __getattr__(name: str):
        # Import machinery asks for submodules by attribute before importing them: let it.
        if name.startswith("__") or is_submodule(name):
            raise AttributeError(name)
        del module.__dict__["__getattr__"]
        loader.exec_module(module)
        return getattr(module, name)

    setattr(module, "__getattr__", __getattr__)  # noqa: B010 (a module-level __getattr__, PEP 562)
    sys.modules[PACKAGE] = module
    setattr(sys.modules["mitmproxy"], "addons", module)  # noqa: B010 (as importing the package would)
