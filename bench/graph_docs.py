"""Microsoft's documented Graph examples against the demo: how many agree.

    python bench/graph_docs.py DOCS [--tree TREE] [--out DIR] [--limit N]

DOCS is a checkout of Microsoft's Graph reference (microsoftgraph/microsoft-graph-docs-contrib, or
its predecessor microsoftgraph/microsoft-graph-docs) or any folder holding its
`api-reference/v1.0/api/*.md` pages; fetch it first (nothing of it is copied into this repo).
Each page's example pairs (a request block annotated `"blockType": "request"`, then the response
block annotated `"blockType": "response"`) are sent in page order, the deletes last, to one
`tapeproxy demo` started from TREE (default: this checkout) through the proxy, with a bearer token
where the page shows none.

A pair agrees when the demo answers the documented status and every top-level property the
documented response shows (annotations aside), and, for a collection, every property of its first
documented item in the first item answered. Pairs whose request body is not JSON the docs
themselves could send (a trailing comma) are counted apart, not sent. Printed: pairs agreeing,
refused with a 4xx the docs do not show, 5xx, other disagreements, by area; DIR/graph-docs.json
holds every pair's outcome.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
ANNOTATION = re.compile(r"<!--\s*(\{.*?\})\s*-->", re.S)
FENCE = re.compile(r"^```\s*(http|msgraph-interactive)\s*$(.*?)^```", re.S | re.M)
V1 = "https://graph.microsoft.com/v1.0/"


def pairs(page: Path) -> list[dict]:
    """The page's (request, response) example pairs, in order."""
    text = page.read_text(encoding="utf-8", errors="replace")
    out, pending = [], None
    for m in ANNOTATION.finditer(text):
        kind = _block_type(m.group(1))
        if kind not in ("request", "response"):
            continue
        fence = FENCE.search(text, m.end())
        if fence is None or text[m.end() : fence.start()].count("<!--"):
            continue  # the annotation's block is not an HTTP one (or another annotation comes first)
        block = fence.group(2).strip("\n")
        if kind == "request":
            pending = block
        elif pending is not None:
            out.append({"page": page.name, "request": pending, "response": block})
            pending = None
    return out


def _block_type(annotation: str) -> str:
    found = re.search(r'"blockType"\s*:\s*"(\w+)"', annotation)
    return found.group(1) if found else ""


def parse_request(block: str) -> tuple[str, str, dict[str, str], str] | None:
    head, _, body = block.partition("\n\n")
    lines = head.strip().splitlines()
    first = lines[0].split(None, 1) if lines else []
    if len(first) < 2:
        return None
    method, url = first[0].upper(), re.sub(r"\s+HTTP/[\d.]+$", "", first[1].strip())  # spaces in $filter kept
    if url.startswith("/"):
        url = "https://graph.microsoft.com" + url
    if not url.startswith(V1):
        return None  # beta or another host: not the v1.0 service
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip() and " " not in name.strip():
            headers[name.strip()] = value.strip()
    return method, url, headers, body.strip()


def parse_response(block: str) -> tuple[int, object] | None:
    head, _, body = block.partition("\n\n")
    status = re.match(r"HTTP/[\d.]+\s+(\d{3})", head.strip())
    if status is None:
        return None
    try:
        parsed = json.loads(body) if body.strip() else None
    except ValueError:
        parsed = ...  # truncated or commented: only the status is compared
    return int(status.group(1)), parsed


def agrees(documented: object, answered: object) -> str:
    """'' when the answer shows what the documented body shows, else what it lacks."""
    if not isinstance(documented, dict):
        return ""
    if not isinstance(answered, dict):
        return "no JSON object answered"
    missing = [k for k in documented if not k.startswith("@") and "@" not in k and k not in answered]
    if missing:
        return "lacks " + ", ".join(missing[:5])
    doc_items, got_items = documented.get("value"), answered.get("value")
    if isinstance(doc_items, list) and doc_items and isinstance(doc_items[0], dict):
        if not isinstance(got_items, list) or not got_items or not isinstance(got_items[0], dict):
            return "no items answered"
        lacking = [k for k in doc_items[0] if not k.startswith("@") and "@" not in k and k not in got_items[0]]
        if lacking:
            return "items lack " + ", ".join(lacking[:5])
    return ""


def area(page: str) -> str:
    return page.split("-", 1)[0].removesuffix(".md")


def start_demo(tree: Path, work: Path) -> tuple[subprocess.Popen, str, str]:
    shim = work / "shim"
    shim.mkdir()
    (shim / "tapeproxy").symlink_to(tree / "addons")  # pyproject maps addons/ -> tapeproxy
    conf = work / "conf"
    env = {**os.environ, "PYTHONPATH": str(shim)}
    log = open(work / "proxy.log", "w")  # noqa: SIM115 - the proxy writes it until stopped
    code = "import sys; from tapeproxy.frontends.cli import main; sys.exit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "demo", "--port", "0", "--confdir", str(conf)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(240):
        found = re.search(r"tapeproxy demo: proxy (http://[0-9.:]+)", (work / "proxy.log").read_text())
        if found:
            return proc, found.group(1), str(conf / "mitmproxy-ca-cert.pem")
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    proc.kill()
    sys.exit("the demo did not start:\n" + (work / "proxy.log").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("docs", type=Path)
    parser.add_argument("--tree", type=Path, default=HERE.parent)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--limit", type=int, default=0, help="at most this many pairs (0: all)")
    args = parser.parse_args()
    pages_dir = args.docs / "api-reference" / "v1.0" / "api"
    if not pages_dir.is_dir():
        pages_dir = args.docs
    pages = sorted(pages_dir.glob("*.md"))
    if not pages:
        sys.exit(f"no reference pages (*.md) under {pages_dir}")
    found = [p for page in pages for p in pairs(page)]
    # the deletes last: pages share the docs' ids ({id}, the same example GUIDs), and one page's
    # DELETE would otherwise remove what another page reads
    found.sort(key=lambda p: p["request"].lstrip().upper().startswith("DELETE"))
    if args.limit:
        found = found[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="graph-docs-"))
    proc, proxy, ca = start_demo(args.tree.resolve(), work)
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": proxy, "http": proxy}
    session.verify = ca
    outcomes = []
    try:
        for pair in found:
            outcomes.append(_send(session, pair))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return _report(outcomes, len({p["page"] for p in found}), args.tree, args.out or work)


def _send(session: requests.Session, pair: dict) -> dict:
    request, response = parse_request(pair["request"]), parse_response(pair["response"])
    row = {"page": pair["page"], "request": pair["request"].splitlines()[0][:200]}
    if request is None or response is None:
        return {**row, "outcome": "not a v1.0 pair"}
    method, url, headers, body = request
    status, documented = response
    if body and headers.get("Content-type", headers.get("Content-Type", "")).startswith("application/json"):
        try:
            json.loads(body)
        except ValueError:
            return {**row, "outcome": "docs body not JSON"}
    token = next((k for k in headers if k.lower() == "authorization"), "Authorization")
    if "{" in headers.get(token, "{") or "<" in headers[token]:  # none shown, or a placeholder
        headers[token] = "Bearer demo"
    try:
        got = session.request(method, url, headers=headers, data=body.encode() or None, timeout=30)
    except requests.RequestException as e:
        return {**row, "outcome": "no answer", "why": str(e)[:200]}
    row.update(documented_status=status, status=got.status_code)
    try:
        answered = got.json()
    except ValueError:
        answered = None
    if got.status_code != status:
        kind = "5xx" if got.status_code >= 500 else "refused" if got.status_code >= 400 else "other status"
        error = answered.get("error", {}) if isinstance(answered, dict) else {}
        why = f"{error.get('code', '')}: {error.get('message', '')}"[:300] if error else ""
        return {**row, "outcome": kind, "why": why}
    lack = agrees(documented, answered) if documented is not ... else ""
    return {**row, "outcome": "agrees" if not lack else "wrong body", "why": lack}


def _report(outcomes: list[dict], pages: int, tree: Path, out: Path) -> int:
    sent = [o for o in outcomes if o["outcome"] not in ("not a v1.0 pair", "docs body not JSON")]
    tally = collections.Counter(o["outcome"] for o in outcomes)
    agree = tally["agrees"]
    head = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h"], capture_output=True, text=True)
    sent_pages = {o["page"] for o in sent}
    print(f"tree {tree} at {head.stdout.strip() or '?'}: {len(sent_pages)} pages sent")
    print(f"PAIRS {len(sent)} sent (of {len(outcomes)} found on {pages} pages): {agree} agree with the docs")
    for kind in ("refused", "5xx", "other status", "wrong body", "no answer", "not a v1.0 pair", "docs body not JSON"):
        print(f"  {kind:<20} {tally[kind]}")
    by_area: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for o in sent:
        by_area[area(o["page"])][o["outcome"] == "agrees"] += 1
    worst = sorted(by_area.items(), key=lambda kv: -kv[1][False])[:12]
    print("areas with the most disagreements: " + ", ".join(f"{a} {c[False]}/{c[True] + c[False]}" for a, c in worst))
    out.mkdir(parents=True, exist_ok=True)
    (out / "graph-docs.json").write_text(json.dumps(outcomes, indent=1))
    print(f"every pair: {out / 'graph-docs.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
