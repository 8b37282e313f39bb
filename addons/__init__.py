"""tapeproxy: record/replay mock proxy for Microsoft Graph and Box, as mitmproxy addons."""

from pathlib import Path

__version__ = "0.1.0"


def bundled(name: str) -> Path:
    """Folder of bundled data (cassettes, scenarios), installed or in a source checkout."""
    here = Path(__file__).resolve().parent
    # in the package (sim/), installed as bundled_NAME (cassettes, scenarios), or a source checkout's NAME/
    for candidate in (here / name, here / f"bundled_{name}", here.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"tapeproxy: bundled folder {name!r} is missing from the installation")
