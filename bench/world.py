"""The world benchmark (issue 28): what the stored world costs through the proxy, as ratios to the
floor measured in the same rounds, next to the spec answer of the same GET (what the demo served
for it before the world kept records).

    python bench/run.py --world     # this part alone

The world: `tapeproxy demo --world` with 1,000 Graph users and 1,000 Box files (with content)
seeded. Loads: GET of a stored user, a `$filter` over the 1,000 (50 match), POST of a group, PATCH
of a user, PUT of a Box file's description (a resource module's change: the content every file
names is looked at after it). The spec answer: `tapeproxy replay --spec` over an empty cassette,
GET of a user it generates.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import yaml

USERS = FILES = 1000
GRAPH = "https://graph.microsoft.com/v1.0"
BOX = "https://api.box.com/2.0"
FIRST_FILE = 20_000_000


def user_id(i: int) -> str:
    return f"5f6b7c0e-0000-4000-8000-{i:012d}"


def write_world(path: Path) -> None:
    users = [
        {
            "id": user_id(i),
            "displayName": f"User {i:04d}",
            "department": f"Dept {i % 20}",
            "mail": f"user{i}@contoso.com",
            "userPrincipalName": f"user{i}@contoso.com",
            "accountEnabled": i % 3 != 0,
        }
        for i in range(USERS)
    ]
    files = [{"id": str(FIRST_FILE + i), "name": f"file {i}.txt", "content": f"file {i}\n"} for i in range(FILES)]
    world = {"graph": {"me": user_id(0), "users": users}, "box": {"files": files}}
    path.write_text(yaml.safe_dump(world, sort_keys=False))


# (name, which server, method, URL, JSON body)
LOADS = [
    ("spec answer: GET /users/{id}", "spec", "GET", f"{GRAPH}/users/48d31887-5fad-4d73-a9f5-3c356e68a038", None),
    ("world: GET /users/{id} (stored)", "world", "GET", f"{GRAPH}/users/{user_id(7)}", None),
    (
        "world: GET /users?$filter= over 1,000",
        "world",
        "GET",
        f"{GRAPH}/users?%24filter=" + quote("department eq 'Dept 7' and accountEnabled eq true"),
        None,
    ),
    (
        "world: POST /groups",
        "world",
        "POST",
        f"{GRAPH}/groups",
        '{"displayName": "Bench", "mailEnabled": false, "mailNickname": "bench", "securityEnabled": true}',
    ),
    ("world: PATCH /users/{id}", "world", "PATCH", f"{GRAPH}/users/{user_id(8)}", '{"jobTitle": "Benchmarker"}'),
    (
        "world: PUT /2.0/files/{id} (1,000 files)",
        "world",
        "PUT",
        f"{BOX}/files/{FIRST_FILE + 9}",
        '{"description": "Benchmarked"}',
    ),
]


def measure(
    servers: dict, load: Callable[..., dict], rounds: int, n: int, floor_key: str = "floor"
) -> dict[str, tuple[float, float, dict]]:
    """{load name: (median req/s ratio to the floor, median CPU-time ratio, the median round's figures)}."""
    by_load: dict[str, list[tuple[dict, dict]]] = {}
    for _ in range(rounds):
        for name, server, method, url, body in LOADS:
            floor = load(servers[floor_key], n)
            mine = load(servers[server], n, url=url, method=method, body=body)
            by_load.setdefault(name, []).append((mine, floor))
    out = {}
    for name, pairs in by_load.items():
        rps = statistics.median(m["rps"] / f["rps"] for m, f in pairs)
        cpu = statistics.median(f["cpu_ms"] / m["cpu_ms"] for m, f in pairs if m["cpu_ms"])
        middle = sorted(pairs, key=lambda p: p[0]["rps"])[len(pairs) // 2][0]
        out[name] = (rps, cpu, middle)
    return out


def report(results: dict[str, tuple[float, float, dict]], rounds: int, n: int) -> list[str]:
    lines = [
        f"world benchmark ({rounds} rounds of {n} requests per load, keep-alive, 16 connections; each load "
        "next to a floor load in the same round; medians over the rounds):",
        f"  {'load':<42} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'vs floor':>9} {'CPU vs floor':>13}  status codes",
    ]
    for name, (rps, cpu, r) in results.items():
        figures = f"{r['rps']:>8.0f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} {rps:>8.2f}x {cpu:>12.2f}x"
        lines.append(f"  {name:<42} {figures}  {r['codes']}")
    return lines
