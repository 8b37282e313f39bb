#!/usr/bin/env bash
# Build /tmp/boxsuite from nothing for run.sh (same directory): venv/ (box-sdk-gen from the package index, pytest,
# pytest-timeout, tapeproxy's runtime dependencies but not tapeproxy itself: run.sh imports it from the tree it tests),
# sdk/ (test/ and pytest.ini of box/box-python-sdk-gen at one commit, unchanged) and box_env.sh (fake JWT config,
# a locally generated RSA key: it stays under /tmp/boxsuite, never in the repo).
# The SDK's git dir comes first from the `fetch` tool (source "github:box/box-python-sdk-gen").
# Overrides: SDK_GIT=<bare git dir>  SDK_COMMIT=<rev> (default 1c69a80)  BOX_SDK_VERSION=<x.y.z> (default 1.17.0)
#            PYTHON=<interpreter for the venv>  TREE=<tapeproxy tree whose pyproject lists the dependencies>
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=/tmp/boxsuite
SDK_GIT=${SDK_GIT:-/work/.mirror/box+box-python-sdk-gen/repo}
SDK_COMMIT=${SDK_COMMIT:-1c69a80}
BOX_SDK_VERSION=${BOX_SDK_VERSION:-1.17.0}
PYTHON=${PYTHON:-python3}
TREE=${TREE:-$(cd "$HERE/../.." && pwd)}

[ -d "$SDK_GIT" ] || { echo "no SDK git dir at $SDK_GIT: fetch github:box/box-python-sdk-gen first" >&2; exit 2; }
COMMIT=$(git --git-dir="$SDK_GIT" rev-parse --verify "$SDK_COMMIT^{commit}")
mkdir -p "$BASE"

# the SDK's tests, unchanged; box_sdk_gen itself comes from the index (sdk/ holds no box_sdk_gen/ to shadow it)
rm -rf "$BASE/sdk"
mkdir -p "$BASE/sdk"
git --git-dir="$SDK_GIT" archive "$COMMIT" test pytest.ini | tar -x -C "$BASE/sdk"
echo "$COMMIT" >"$BASE/sdk/SDK_COMMIT"
SRC_VERSION=$(git --git-dir="$SDK_GIT" show "$COMMIT:box_sdk_gen/networking/version.py" | sed -n "s/.*__version__ = '\(.*\)'.*/\1/p")
echo "sdk: box-python-sdk-gen@$COMMIT (its version.py: $SRC_VERSION), $(find "$BASE/sdk/test" -name '*.py' | wc -l) files"

# tapeproxy's runtime dependencies, read from the tree's pyproject ([project] dependencies)
mapfile -t TP_DEPS < <("$PYTHON" - "$TREE/pyproject.toml" <<'PYEOF'
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["dependencies"]))
PYEOF
)
rm -rf "$BASE/venv"
"$PYTHON" -m venv "$BASE/venv"
"$BASE/venv/bin/python" -m pip install -q "box-sdk-gen[jwt]==$BOX_SDK_VERSION" pytest pytest-timeout "${TP_DEPS[@]}" \
  2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)  # this machine's pip.conf: absent mirrors
"$BASE/venv/bin/python" -m pip freeze >"$BASE/venv-freeze.txt"
if "$BASE/venv/bin/python" -c 'import tapeproxy' 2>/dev/null; then
  echo "tapeproxy is importable from the venv: run.sh must import it from the tree" >&2
  exit 2
fi
[ "$SRC_VERSION" = "$BOX_SDK_VERSION" ] || echo "warning: SDK commit is version $SRC_VERSION, box-sdk-gen $BOX_SDK_VERSION installed" >&2
echo "venv: $("$BASE/venv/bin/python" --version), box-sdk-gen $BOX_SDK_VERSION, tapeproxy deps: ${TP_DEPS[*]}"

rm -f "$BASE/jwt_key.pem"
"$BASE/venv/bin/python" "$HERE/make_env.py" "$BASE"
