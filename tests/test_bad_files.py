"""A corpus of broken cassettes, scenarios and worlds: each is named with its file and line, exit 2,
never a traceback, and a broken cassette being recorded to is left exactly as it was."""

import os

import pytest
from helpers import run_cli

OK = "- request: {method: GET, uri: 'https://api.box.com/2.0/tasks/1'}\n  response: {status: {code: 200}}\n"
# Nine levels of nine aliases each: 667 bytes that a walk would see as 387 million values.
LAUGHS = "".join(
    f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else ', '.join(['lol'] * 9)}]\n" for i in range(9)
)
DEEP = "[" * 500 + "1" + "]" * 500

CASSETTES = {  # file name: (content, line, words)
    "syntax.yaml": ("interactions:\n- request: {method: GET\nversion: 1\n", 3, "did not find expected ',' or '}'"),
    "wrong-type.yaml": ("interactions: 5\nversion: 1\n", 1, "'interactions' must be a list"),
    "bad-status.yaml": (
        "interactions:\n" + OK + "- request: {method: GET, uri: 'https://api.box.com/x'}\n"
        "  response: {status: {code: abc}}\n",
        5,
        "status code must be an integer 100-599",
    ),
    "header-value.yaml": (
        "interactions:\n- request: {method: GET, uri: 'https://api.box.com/x', headers: {A: [{x: 1}]}}\n"
        "  response: {status: {code: 200}}\n",
        2,
        "header 'A' has a mapping value",
    ),
    "bad-uri.yaml": (
        "interactions:\n- request: {method: GET, uri: 'https://api.box.com:99999/x'}\n"
        "  response: {status: {code: 200}}\n",
        2,
        "port out of range",
    ),
    "bad-base64.yaml": (
        "interactions:\n- request: {method: GET, uri: 'https://api.box.com/x'}\n"
        "  response: {status: {code: 200}, body: {string: !!binary 'not base64!'}}\n",
        3,
        "failed to decode base64",
    ),
    "bad-int.yaml": (
        "interactions:\n- request: {method: GET, uri: 'https://api.box.com/x'}\n"
        "  response: {status: {code: !!int 'x'}}\n",
        3,
        "'x' is not a valid int",
    ),
    "two-documents.yaml": ("interactions: []\n---\ninteractions: []\n", 2, "more than one YAML document"),
    "version.yaml": ("interactions: []\nversion: 2\n", 2, "unsupported cassette version 2"),
    "utf8.yaml": (b"interactions:\n- request: {method: GET, uri: 'https://api.box.com/\xff'}\n", 2, "not valid UTF-8"),
    "empty.yaml": ("", 1, "empty cassette"),
    "duplicate-key.yaml": (
        "interactions:\n- request: {method: GET, uri: 'https://api.box.com/x', method: PUT}\n"
        "  response: {status: {code: 200}}\n",
        2,
        "key 'method' appears twice",
    ),
    "header-bomb.yaml": (
        "h: &h " + "x" * 1_000_000 + "\ninteractions:\n- request: {method: GET, uri: 'https://api.box.com/x'}\n"
        "  response: {status: {code: 200}, headers: {X: [" + ", ".join(["*h"] * 2000) + "]}}\n",
        4,
        "aliases expand this document",
    ),
    "python-tag.yaml": (
        "interactions: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
        1,
        "python/object/apply:os.system is not allowed",
    ),
}

SCENARIOS = {
    "s-alias-bomb.yaml": (
        "laughs:\n" + LAUGHS + "rules:\n  - respond: {json: *l8}\n",
        3,
        "aliases expand this document",
    ),
    "s-deep.yaml": ("rules:\n  - respond:\n      json: " + DEEP + "\n", 3, "nested more than 200 levels deep"),
    "s-syntax.yaml": ("rules:\n  - match: {path: /x\n", 3, "did not find expected ',' or '}'"),
    "s-status.yaml": ("rules:\n  - respond: {status: abc}\n", 2, "status must be an integer 100-599"),
    "s-unknown-key.yaml": (
        "rules:\n  - {eror: throttled}\n",
        2,
        "unknown key 'eror' in rule 1 (did you mean 'error'?)",
    ),
    "s-template.yaml": ("rules:\n  - respond: {json: {a: '{body.x'}}\n", 2, "bad template: unbalanced '{'"),
    "s-path.yaml": ("rules:\n  - {match: {path: '/2.0/{id'}, error: throttled}\n", 2, "unbalanced brace in path"),
    "s-missing-file.yaml": ("rules:\n  - respond: {file: missing.json}\n", 2, "file 'missing.json' not found"),
    "s-escaping-file.yaml": ("rules:\n  - respond: {file: ../../etc/passwd}\n", 2, "outside the scenario's folder"),
    "s-types.yaml": ("rules:\n  - {every: many, error: throttled}\n", 2, "every must be an integer >= 1"),
    "s-error-name.yaml": ("rules:\n  - {error: nosucherror}\n", 2, "unknown error 'nosucherror'"),
    "s-duration.yaml": ("rules:\n  - {delay: soon}\n", 2, "'soon' is not a duration"),
    "s-utf8.yaml": (b'name: x\nrules:\n  - {error: throttled, name: "\xff"}\n', 3, "not valid UTF-8"),
    "s-empty.yaml": ("", 1, "empty scenario"),
    "s-python-tag.yaml": ("rules: !!python/name:os.system\n", 1, "python/name:os.system is not allowed"),
}

WORLDS = {
    "w-alias-bomb.yaml": (
        "laughs:\n" + LAUGHS + "box:\n  users: [{id: '1', name: *l8}]\n",
        3,
        "aliases expand this document",
    ),
    "w-syntax.yaml": ("graph: [\n", 2, "did not find expected node content"),
    "w-unknown-key.yaml": ("graph: {}\nbox: {}\nbux: {}\n", 3, "unknown key 'bux' in the world (did you mean 'box'?)"),
    "w-types.yaml": ("box:\n  tasks: 5\n", 2, "expected a list, got an integer"),
    "w-reference.yaml": (
        "box:\n  files: [{id: '1', name: a.pdf}]\n  tasks: [{id: '9', item: {id: '2'}, action: review}]\n",
        3,
        "which box.files lacks",
    ),
    "w-empty.yaml": ("", 1, "empty world file"),
    "w-task-state.yaml": (
        "graph:\n  taskDefinitions:\n    - id: d1\n      tasks:\n        - {id: t1, status: {state: procesing}}\n",
        5,
        "did you mean 'processing'",
    ),
    "w-python-tag.yaml": ("graph: !!python/object:builtins.dict {}\n", 1, "python/object:builtins.dict is not allowed"),
    "w-utf8.yaml": (b"box:\n  files: [{id: '1', name: \"\xfe\"}]\n", 2, "not valid UTF-8"),
    "w-blob.yaml": ("box:\n  files:\n    - {id: '1', blob: " + "ab" * 32 + "}\n", 3, "is missing: no file"),
    "w-blob-path.yaml": ("box:\n  files:\n    - {id: '1', blob: ../../../etc/passwd}\n", 3, "a SHA-256 in hex"),
    "w-content.yaml": ("box:\n  files:\n    - id: '1'\n      content: [1, 2]\n", 4, "content must be text"),
}


def _check(tmp_path, name, content, line, words, args):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = run_cli([*args(name), "--port", "0", "--confdir", str(tmp_path / "conf")], cwd=tmp_path)
    assert out.returncode == 2, f"{name}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    assert f"tapeproxy: error: {name}:{line}: " in out.stderr, out.stderr
    assert words in out.stderr, out.stderr
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize("name", CASSETTES)
def test_broken_cassettes(tmp_path, name):
    _check(tmp_path, name, *CASSETTES[name], lambda f: ["replay", f])


@pytest.mark.parametrize("name", SCENARIOS)
def test_broken_scenarios(tmp_path, name):
    _check(tmp_path, name, *SCENARIOS[name], lambda f: ["demo", "--scenario", f])


@pytest.mark.parametrize("name", WORLDS)
def test_broken_worlds(tmp_path, name):
    _check(tmp_path, name, *WORLDS[name], lambda f: ["demo", "--world", f])


def test_fifty_megabyte_files(tmp_path):
    garbage = b"interactions:\n" + b"- x\n" * 1000 + os.urandom(50 * 2**20)
    _check(tmp_path, "garbage.yaml", garbage, _first_bad_line(garbage), "not valid UTF-8", lambda f: ["replay", f])
    one_line = "x" * (50 * 2**20) + "\n"
    _check(
        tmp_path, "one-line.yaml", one_line, 1, "a cassette must be a mapping, got a string", lambda f: ["replay", f]
    )


def _first_bad_line(data: bytes) -> int:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return data.count(b"\n", 0, e.start) + 1
    raise AssertionError("the garbage decoded")


def test_a_broken_cassette_being_recorded_to_is_left_as_it_was(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("interactions:\n" + OK + "- {request: oops}\n")
    before = path.read_bytes()
    out = run_cli(["record", "--cassette", str(path), "--port", "0", "--confdir", str(tmp_path / "conf")])
    assert out.returncode == 2 and "broken.yaml:4:" in out.stderr, out.stderr
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".broken")] == []
