"""Summarise one run: junit.xml + netlog.jsonl in OUT -> summary.txt, failed.txt, failures.txt, results.json."""

import collections
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

out = Path(sys.argv[1])
meta = json.loads((out / "meta.json").read_text()) if (out / "meta.json").exists() else {}


def junit_key(classname, name):
    return f"{classname}::{name}"


def nodeid_key(nodeid):
    parts = nodeid.split("::")
    path = re.sub(r"\.py$", "", parts[0]).replace("/", ".")
    return junit_key(".".join([path] + parts[1:-1]), parts[-1])


RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
results = {}  # key -> dict(outcome, message, time)
collect_errors = []
try:
    root = ET.parse(out / "junit.xml").getroot()
except (FileNotFoundError, ET.ParseError) as exc:
    root = None
    print(f"no junit xml: {exc}", file=sys.stderr)
for tc in root.iter("testcase") if root is not None else []:
    key = junit_key(tc.get("classname", ""), tc.get("name", ""))
    outcome, msg = "passed", ""
    for tag in ("skipped", "failure", "error"):
        el = tc.find(tag)
        if el is not None:
            outcome = {"failure": "failed"}.get(tag, tag)
            if tag == "error" and "collection" in (el.get("message") or "") or not tc.get("name"):
                collect_errors.append(key)
            msg = (el.get("message") or (el.text or "")).strip()
    prev = results.get(key)
    if prev is None or RANK[outcome] > RANK[prev["outcome"]]:
        results[key] = {"outcome": outcome, "message": msg, "time": float(tc.get("time") or 0)}

calls = collections.defaultdict(list)
netlog = out / "netlog.jsonl"
if netlog.exists():
    for line in netlog.read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        calls[nodeid_key(e["test"]) if "::" in e["test"] else e["test"]].append(e)


def reached(key):
    # a request other than the sign-in itself
    return any("/oauth2/token" not in c["url"] for c in calls.get(key, []))


def any_call(key):
    return bool(calls.get(key))


groups = {"proxy": collections.Counter(), "unit": collections.Counter()}
for key, r in results.items():
    groups["proxy" if any_call(key) else "unit"][r["outcome"]] += 1
tot = collections.Counter(r["outcome"] for r in results.values())


def fmt(c):
    n = sum(c.values())
    return f"{n} tests: {c['passed']} passed, {c['failed']} failed, {c['error']} errors, {c['skipped']} skipped"


def culprit(key):
    cs = calls.get(key, [])
    bad = [c for c in cs if c.get("error") or (c.get("status") or 0) >= 400]
    return (bad[0] if bad else cs[-1]) if cs else None


def short(c):
    if c is None:
        return "(no request)"
    s = f"{c['method']} {c['url']}"
    if c.get("error"):
        return s + f" -> {c['error']}"
    s += f" -> {c.get('status')} [{c.get('source')}]"
    if c.get("req"):
        s += f"\n      req: {c['req'][:200]!s}"
    if c.get("resp"):
        s += f"\n      resp: {c['resp'][:300]!s}"
    return s


def to_nodeid(key):
    cls, name = key.split("::", 1)
    return cls.replace(".", "/") + ".py::" + name


failing = sorted(k for k, r in results.items() if r["outcome"] in ("failed", "error"))
(out / "failed.txt").write_text("".join(to_nodeid(k) + "\n" for k in failing))
with (out / "failures.txt").open("w") as f:
    for k in failing:
        r = results[k]
        first = r["message"].splitlines()[0][:300] if r["message"] else ""
        where = "proxy" if any_call(k) else "unit"
        f.write(f"== {to_nodeid(k)} [{r['outcome']}, {where}]\n   {first}\n   {short(culprit(k))}\n")
status_hist = collections.Counter()
for k in failing:
    c = culprit(k)
    if c:
        status_hist[c.get("error", "").split(":")[0] or f"{c['method']} {c.get('status')}"] += 1
sources = collections.Counter(
    c.get("source") or ("no-connection" if c.get("error") else "simulation(no header)")
    for cs in calls.values()
    for c in cs
)
closed = {}
cj = out / "junit-closedport.xml"
if cj.exists():
    for tc in ET.parse(cj).getroot().iter("testcase"):
        bad = any(tc.find(t) is not None for t in ("failure", "error", "skipped"))
        closed[junit_key(tc.get("classname", ""), tc.get("name", ""))] = not bad
unit_keys = [k for k in results if not any_call(k)]
closed_ok = [k for k in unit_keys if closed.get(k, False)]
closed_bad = [to_nodeid(k) for k in unit_keys if not closed.get(k, False)]
lines = [
    f"label: {meta.get('label')}   tree: {meta.get('tree')}   HEAD: {meta.get('head')}",
    f"sdk: {meta.get('sdk')}   pytest rc: {meta.get('pytest_rc')}   duration: {meta.get('duration_s')} s",
    f"ALL          {fmt(tot)}",
    f"REACH PROXY  {fmt(groups['proxy'])}",
    f"UNIT (no HTTP request) {fmt(groups['unit'])}",
    f"cross-check, unit tests re-run with HTTPS_PROXY at a closed port: {len(closed_ok)}/{len(unit_keys)} pass"
    + (f" (not passing: {closed_bad[:5]})" if closed_bad else ""),
    f"collection errors: {len(collect_errors)} {collect_errors[:5]}",
    f"requests logged: {sum(len(v) for v in calls.values())}; by X-Tapeproxy-Source: {dict(sources.most_common())}",
    f"culprit request of failing tests (first >=400/error, else last): {dict(status_hist.most_common(15))}",
]
(out / "summary.txt").write_text("\n".join(lines) + "\n")
(out / "unit-candidates.txt").write_text("".join(to_nodeid(k) + "\n" for k in unit_keys))
by_test = {to_nodeid(k): dict(v, reached_proxy=any_call(k)) for k, v in results.items()}
(out / "results.json").write_text(json.dumps(by_test, indent=1))
print("\n".join(lines))
