"""The minimal-permissions report: for a session's Graph calls (or a recording's), the
least-privileged permissions of each token kind that cover them, what the tokens held that no call
needed, and the calls no permission of the token's kind allows. Offline, from the model of
Microsoft's reference (core/permissions.py)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from . import permissions

KINDS = ("delegated", "application")
MAX_LISTED = 100  # calls listed by name in a report (the counts are of all)
MAX_REMEMBERED = 10_000  # calls remembered as already noted (then forgotten, and noted again)


@dataclass
class _Kind:
    calls: dict[tuple[str, str], permissions.Allowed] = field(default_factory=dict)  # (method, path key) -> rule
    held: set[str] = field(default_factory=set)  # every permission the tokens of this kind carried
    refused: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # calls the tokens could not make


class PermissionUsage:
    """What a session's Graph calls needed, call by call; thread-safe (observed on the event loop,
    read by the control API and the exit summary)."""

    def __init__(self) -> None:
        self._kinds = {k: _Kind() for k in KINDS}
        self._unmapped: set[tuple[str, str]] = set()  # (method, path key) of calls the reference does not list
        self._lock = threading.Lock()
        self.calls = 0
        self._said: set[tuple] = set()  # (method, path, kind, held) already noted: a repeat only counts

    def add(self, method: str, path: str, kind: str | None, held: frozenset[str] = frozenset()) -> None:
        """One call; kind None: its token had no claims (it is reported under both kinds' needs)."""
        seen_before = (method, path, kind, held)
        with self._lock:
            self.calls += 1
            if seen_before in self._said:  # the same call with the same token again: nothing new to note
                return
            if len(self._said) >= MAX_REMEMBERED:
                self._said.clear()
            self._said.add(seen_before)
        rule = permissions.lookup(method, path)
        with self._lock:
            if rule is None:
                key = (method.upper(), permissions.path_key(path))
                if len(self._unmapped) < MAX_LISTED:
                    self._unmapped.add(key)
                return
            # a token without claims: counted for each kind that can make the call at all
            for k in (kind,) if kind else [k for k in KINDS if rule.names(k)]:
                seen = self._kinds[k]
                seen.calls[(method.upper(), rule.path)] = rule
                if kind:
                    seen.held |= held
                    if not rule.allows(kind, held) and len(seen.refused) < MAX_LISTED:
                        seen.refused[(method.upper(), rule.path)] = rule.least(kind)

    def report(self) -> dict:
        with self._lock:
            out: dict = {"calls": self.calls, "unmapped": [f"{m} {p}" for (m, p) in sorted(self._unmapped)]}
            for kind, seen in self._kinds.items():
                usable = {call: rule for call, rule in seen.calls.items() if rule.names(kind)}
                minimal = minimal_set(kind, list(usable.values()))
                out[kind] = {
                    "minimal": minimal,
                    # held, and allowing none of the calls made: no call needed it
                    "excess": sorted(p for p in seen.held if not any(p in r.names(kind) for r in usable.values())),
                    "refused": [{"call": f"{m} {p}", "least": least} for (m, p), least in sorted(seen.refused.items())],
                    "not_possible": sorted(f"{m} {p}" for (m, p), rule in seen.calls.items() if not rule.names(kind)),
                }
            return out


def minimal_set(kind: str, rules: list[permissions.Allowed]) -> list[str]:
    """Least-privileged permissions covering every call: each call's least-privileged choice, then
    any chosen permission whose calls another chosen one also allows is dropped (Mail.Read, when
    Mail.ReadWrite is needed anyway)."""
    chosen: set[str] = set()
    for rule in rules:
        least = rule.least(kind)
        if least and not set(least) & chosen:
            chosen.add(least[0])
    for name in sorted(chosen, key=lambda n: (-permissions.privilege(n, kind), n)):
        rest = chosen - {name}
        if rest and all(not rule.names(kind) or rule.allows(kind, rest) for rule in rules):
            chosen = rest
    return sorted(chosen)


def markdown(report: dict) -> list[str]:
    """The report's lines in Markdown (the --report file's section)."""
    lines = ["## Graph permissions", "", f"{report['calls']} Graph call(s)."]
    for kind in KINDS:
        r = report[kind]
        if not (r["minimal"] or r["excess"] or r["refused"]):
            continue
        lines += ["", f"### {kind.capitalize()}", ""]
        lines.append(f"- least privileged: {', '.join(r['minimal']) or '(none)'}")
        if r["excess"]:
            lines.append(f"- held but not needed: {', '.join(r['excess'])}")
        other = f"a token of another kind: no {kind} permission allows it"
        lines += [f"- refused: `{x['call']}` needs {' or '.join(x['least']) or other}" for x in r["refused"]]
    if report["unmapped"]:
        lines += ["", "Not in Microsoft's permissions reference: " + ", ".join(f"`{c}`" for c in report["unmapped"])]
    return lines


def summary_lines(report: dict) -> list[str]:
    """The exit summary's lines: per token kind seen, the least-privileged set and what was refused."""
    out = []
    for kind in KINDS:
        r = report[kind]
        if r["minimal"]:
            out.append(f"Graph permissions ({kind}), least privileged: {', '.join(r['minimal'])}")
        if r["excess"]:
            out.append(f"Graph permissions ({kind}), held but not needed: {', '.join(r['excess'])}")
        for x in r["refused"][:10]:
            needs = " or ".join(x["least"]) or "a token of another kind"
            out.append(f"Graph permissions ({kind}), refused {x['call']}: needs {needs}")
    return out
