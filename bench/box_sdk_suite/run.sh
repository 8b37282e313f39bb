#!/usr/bin/env bash
# Box's Python SDK integration suite (box/box-python-sdk-gen test/, unchanged) against `tapeproxy demo` started
# from a source tree (its addons/ imported as the tapeproxy package; uncommitted changes included).
#   bash bench/box_sdk_suite/setup.sh              # once: builds /tmp/boxsuite/{venv,sdk,box_env.sh}
#   bash bench/box_sdk_suite/run.sh TREE LABEL     # TREE default /work/main, LABEL default TREE's short HEAD
# Output in /tmp/boxsuite/out-LABEL/:
#   summary.txt     pass/fail of the whole suite, of the tests that reached the proxy, of those that made no request
#   failed.txt      failing tests' node ids, one a line (the format of failed-*.txt here)
#   failures.txt    per failing test: first line of the error and its culprit request (first >=400/error, else last)
#   results.json    every test: outcome, message, whether it reached the proxy
#   junit.xml, pytest.log, netlog.jsonl (every request the tests made, by test), proxy.log, proxy-report.json,
#   meta.json, the *-closedport files (the no-request tests again, with the proxy at a closed port)
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=/tmp/boxsuite
TREE=$(cd "${1:-/work/main}" && pwd) || exit 2
LABEL=${2:-$(git -C "$TREE" rev-parse --short HEAD 2>/dev/null || basename "$TREE")}
OUT=$BASE/out-$LABEL
PY=$BASE/venv/bin/python
SDK=$BASE/sdk
[ -x "$PY" ] && [ -d "$SDK/test" ] && [ -f "$BASE/box_env.sh" ] || { echo "run $HERE/setup.sh first" >&2; exit 2; }
[ -d "$TREE/addons" ] || { echo "no addons/ in $TREE" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT/shim" "$OUT/conf"
ln -s "$TREE/addons" "$OUT/shim/tapeproxy" # pyproject maps addons/ -> tapeproxy
export PYTHONPATH=$OUT/shim
TP=("$PY" -c 'import sys; from tapeproxy.frontends.cli import main; sys.exit(main())')
"$PY" -c 'import tapeproxy; print("tapeproxy from", tapeproxy.__file__)' | tee "$OUT/tapeproxy-origin.txt"
grep -q "^tapeproxy from $OUT/shim/" "$OUT/tapeproxy-origin.txt" || { echo "tapeproxy not imported from $TREE" >&2; exit 2; }

"${TP[@]}" demo --port 0 --confdir "$OUT/conf" --report "$OUT/proxy-report.json" >"$OUT/proxy.log" 2>&1 &
PROXY_PID=$!
stop_proxy() { kill -TERM "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null; }
trap stop_proxy EXIT
URL=
for _ in $(seq 1 120); do
  URL=$(grep -o 'tapeproxy demo: proxy http://[0-9.:]*' "$OUT/proxy.log" | head -1 | awk '{print $4}')
  [ -n "$URL" ] && break
  kill -0 "$PROXY_PID" 2>/dev/null || { echo "proxy died:"; cat "$OUT/proxy.log"; exit 3; }
  sleep 0.5
done
[ -n "$URL" ] || { echo "proxy not ready after 60 s"; cat "$OUT/proxy.log"; exit 3; }
echo "proxy $URL (pid $PROXY_PID)"
unset http_proxy https_proxy all_proxy ALL_PROXY no_proxy NO_PROXY # only the proxy tapeproxy names
eval "$("${TP[@]}" env --confdir "$OUT/conf" --proxy "$URL" --shell bash)"
# sanity: the demo answers the sign-in through the proxy
curl -sS -o /dev/null -w 'token endpoint via proxy: %{http_code}\n' \
  -d grant_type=client_credentials -d client_id=x -d client_secret=y https://api.box.com/oauth2/token

# shellcheck source=/dev/null
source "$BASE/box_env.sh" # fake JWT config (local RSA key) and ids from the demo world
export NETLOG_FILE=$OUT/netlog.jsonl
export PYTHONPATH=$HERE # the netlog plugin; tapeproxy is not needed in the test process
START=$(date +%s)
(cd "$SDK" && timeout 1800 "$PY" -m pytest test/ -p no:cacheprovider -p netlog_plugin \
  -o addopts=--strict-markers --timeout=60 --tb=short -q -rfE \
  --junitxml="$OUT/junit.xml" >"$OUT/pytest.log" 2>&1)
RC=$?
END=$(date +%s)
stop_proxy
trap - EXIT
"$PY" - "$OUT" "$TREE" "$LABEL" "$RC" "$((END - START))" "$(cat "$SDK/SDK_COMMIT")" <<'PYEOF'
import json
import subprocess
import sys

out, tree, label, rc, dur, sdk = sys.argv[1:]
git = ["git", "-C", tree]
head = subprocess.run(git + ["log", "-1", "--format=%h %s"], capture_output=True, text=True).stdout.strip()[:100]
dirty = subprocess.run(git + ["status", "--porcelain"], capture_output=True, text=True).stdout.strip()
meta = {
    "label": label,
    "tree": tree,
    "head": head + (" (+uncommitted changes)" if dirty else ""),
    "pytest_rc": int(rc),
    "duration_s": int(dur),
    "sdk": "box-python-sdk-gen@" + sdk[:7],
}
with open(f"{out}/meta.json", "w") as f:
    json.dump(meta, f)
PYEOF
PYTHONPATH= "$PY" "$HERE/summarize.py" "$OUT" >/dev/null
# cross-check: the tests that made no request must also pass with the proxy at a closed port
if [ -s "$OUT/unit-candidates.txt" ]; then
  (cd "$SDK" && HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NETLOG_FILE=$OUT/netlog-closedport.jsonl \
    timeout 600 "$PY" -m pytest "@$OUT/unit-candidates.txt" -p no:cacheprovider -p netlog_plugin \
    -o addopts=--strict-markers --timeout=60 --tb=short -q --junitxml="$OUT/junit-closedport.xml" \
    >"$OUT/pytest-closedport.log" 2>&1)
fi
PYTHONPATH= "$PY" "$HERE/summarize.py" "$OUT"
echo "out: $OUT"
