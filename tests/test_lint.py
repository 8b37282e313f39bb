"""JSON Schemas for the three file formats, and `tapeproxy lint` catching each kind of mistake at its line."""

import json

import jsonschema
import pytest
import yaml
from helpers import ROOT, run_cli

from tapeproxy.core import scenario
from tapeproxy.core.profiles import ERROR_NAMES

SCHEMAS = ROOT / "addons" / "schemas"


def schema(name):
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


@pytest.mark.parametrize("name", ["cassette", "scenario", "world"])
def test_schemas_are_valid_json_schemas(name):
    jsonschema.Draft202012Validator.check_schema(schema(name))


@pytest.mark.parametrize(
    "name, files",
    [
        ("cassette", sorted((ROOT / "cassettes").glob("*.yaml"))),
        ("scenario", sorted((ROOT / "scenarios").glob("*.yaml"))),
        ("world", [ROOT / "addons" / "sim" / "default-world.yaml"]),
    ],
)
def test_bundled_files_validate_and_name_their_schema(name, files):
    for path in files:
        text = path.read_text()
        assert text.startswith("# yaml-language-server: $schema=") and f"{name}.schema.json" in text.splitlines()[0]
        target = (path.parent / text.splitlines()[0].split("=", 1)[1]).resolve()
        assert target == (SCHEMAS / f"{name}.schema.json").resolve()
        jsonschema.validate(yaml.safe_load(text), schema(name))


def test_the_scenario_schema_knows_exactly_the_keys_the_loader_knows():
    d = schema("scenario")["$defs"]
    assert set(d["rule"]["properties"]) == scenario.RULE_KEYS
    assert set(d["step"]["properties"]) == scenario.STEP_KEYS
    assert set(d["rule"]["properties"]["match"]["properties"]) == scenario.MATCH_KEYS
    assert set(d["respond"]["properties"]) == scenario.RESPOND_KEYS
    assert set(schema("scenario")["properties"]) == scenario.SCENARIO_KEYS
    assert d["error"]["enum"] == list(ERROR_NAMES)


BROKEN = {
    "cassettes/status.yaml": (
        "interactions:\n- request: {method: GET, uri: 'https://h/x'}\n  response:\n    status: {code: 999}\n",
        4,
        "status code must be an integer 100-599",
    ),
    "cassettes/syntax.yaml": ("interactions:\n- request: {method: GET\n", 3, ""),
    "cassettes/python.yaml": ("interactions: !!python/object:os.system {}\n", 1, "is not allowed"),
    "scenarios/key.yaml": ("rules:\n  - error: throttled\n    retry_afte: 2\n", 3, "did you mean 'retry_after'"),
    "scenarios/template.yaml": ("rules:\n  - respond: {json: {id: '{nope}'}}\n", 2, "unknown placeholder {nope}"),
    "worlds/world.yaml": (
        "box:\n  files: [{id: '1'}]\n  tasks:\n    - {id: '2', item: '9'}\n",
        4,
        "which box.files lacks",
    ),
}


def test_lint_names_each_mistake_at_its_line(tmp_path):
    for rel, (text, _, _) in BROKEN.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / "cassettes" / "latin1.yaml").write_bytes(b"interactions: []\n# caf\xe9\n")
    good = tmp_path / "scenarios" / "good.yaml"
    good.write_text("rules:\n  - error: throttled\n")
    done = run_cli(["lint", str(tmp_path)])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    for rel, (_, line, expected) in BROKEN.items():
        found = [out for out in done.stdout.splitlines() if out.startswith(f"{tmp_path / rel}:{line}: ")]
        assert found and expected in found[0], (rel, done.stdout)
    assert f"{tmp_path}/cassettes/latin1.yaml:2: not valid UTF-8" in done.stdout
    assert f"{good}: ok (scenario)" in done.stdout
    assert run_cli(["lint", str(ROOT / "cassettes"), str(ROOT / "scenarios")]).returncode == 0


# Files with several mistakes a schema forbids: lint names each, at its line.
SEVERAL = {
    "cassette": (
        "interactions:\n- request:\n    metod: GET\n    uri: https://api.box.com/2.0/tasks/1\n"
        "  response:\n    status: {code: 200, mesage: OK}\n",
        [
            (3, "request needs a string 'method'"),
            (3, "unknown key 'metod' (did you mean 'method'?)"),
            (6, "unknown key 'mesage' (did you mean 'message'?)"),
        ],
    ),
    "world": (
        "graph:\n  taskDefinitions:\n    - id: d1\n      tasks:\n        - id: t1\n"
        "          status: {state: procesing}\n        - id: t2\n          status: {state: 7}\n",
        [
            (6, "'procesing' is not one of pending, processing, completed, aborted (did you mean 'processing'?)"),
            (8, "7 is not one of"),
        ],
    ),
    "scenario": (
        "rules:\n  - error: throttled\n    retry_afte: 2\n  - error: not_found\n    probabilty: 0.5\n",
        [(3, "did you mean 'retry_after'"), (5, "unknown key 'probabilty' (did you mean 'probability'?)")],
    ),
}


@pytest.mark.parametrize("kind", sorted(SEVERAL))
def test_lint_reports_every_problem_the_schema_forbids_at_its_line(tmp_path, kind):
    text, expected = SEVERAL[kind]
    path = tmp_path / f"{kind}.yaml"
    path.write_text(text)
    with pytest.raises(jsonschema.ValidationError):  # the schema forbids it...
        jsonschema.validate(yaml.safe_load(text), schema(kind))
    done = run_cli(["lint", str(path)])  # ...and lint says so, every time, where
    assert done.returncode == 1, done.stdout
    lines = done.stdout.splitlines()
    for line, message in expected:
        assert any(out.startswith(f"{path}:{line}: ") and message in out for out in lines), (line, message, lines)
    assert len(lines) == len(expected), lines


def test_lint_and_the_schemas_agree_on_every_example(tmp_path):
    """Every file in the repo and every broken one in the tests: lint passes exactly what the schema does."""
    examples = [
        *ROOT.glob("cassettes/*.yaml"),
        *ROOT.glob("scenarios/*.yaml"),
        ROOT / "addons/sim/default-world.yaml",
        *(ROOT / "tests" / "data").glob("*.yaml"),
    ]
    for kind, (text, _) in SEVERAL.items():
        examples.append(tmp_path / f"{kind}.yaml")
        examples[-1].write_text(text)
    from tapeproxy.frontends import lint

    for path in examples:
        data, text = lint.yamlfile.load(path)
        kind = lint.kind_of(data, path)
        valid = not list(lint._validator(kind).iter_errors(lint._plain(data)))
        assert valid == (not lint.check(path)[1]), path


def test_an_unknown_error_name_is_reported_with_the_other_problems_of_its_file(tmp_path):
    """Issue 27, 20: it was reported only once the file's schema errors were fixed (the loader
    stops at its first problem)."""
    path = tmp_path / "s.yaml"
    path.write_text(
        "rules:\n"
        "  - match: {path: /v1.0/a}\n"
        "    times: many\n"  # line 3: the schema wants a number
        "    error: throttled\n"
        "  - match: {path: /v1.0/b}\n"
        "    error: throtled\n"  # line 6: no such error
    )
    out = run_cli(["lint", str(path)])
    assert out.returncode == 1
    assert f"{path}:3:" in out.stdout, out.stdout
    assert f"{path}:6: rules.1.error: unknown error 'throtled' (did you mean 'throttled'?" in out.stdout, out.stdout


def test_the_world_schema_is_the_one_the_modules_and_the_specs_derive():
    """Derived, not written by hand (sim/world_schema.py): a module's keys or a spec changed without
    running `python -m tapeproxy.sim.world_schema > addons/schemas/world.schema.json` fails here."""
    from tapeproxy.sim import registry, world_schema

    assert (SCHEMAS / "world.schema.json").read_text() == world_schema.text()
    keys = schema("world")["properties"]
    assert {"users", "groups", "applications", "drive", "taskDefinitions"} <= set(keys["graph"]["properties"])
    assert {"folders", "web_links", "comments", "files", "tasks"} <= set(keys["box"]["properties"])
    assert registry.world_keys("box") <= set(keys["box"]["properties"])


def test_the_world_schema_names_every_collection_so_an_editor_marks_a_misspelt_one(tmp_path):
    """Any collection of either API can be seeded; the schema lists them all (and each Box record's
    properties), so an editor marks a misspelt collection or property as it is typed, and lint
    names it at its line. A collection a resource module keeps in its own shape is not seeded as Box
    answers it: its records would break the module's answers."""
    text = (
        "graph:\n  userz: []\n"  # line 2
        "box:\n  foldres: []\n"  # line 4
        "  folders:\n    - {id: '1', nmae: Reports}\n"  # line 6
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(yaml.safe_load(text), schema("world"))
    path = tmp_path / "world.yaml"
    path.write_text(text)
    lines = run_cli(["lint", str(path)]).stdout.splitlines()
    for line, message in [(2, "'userz' (did you mean 'users'?)"), (4, "(did you mean 'folders'?)"), (6, "'nmae'")]:
        assert any(out.startswith(f"{path}:{line}: ") and message in out for out in lines), (line, lines)
    owned = tmp_path / "owned.yaml"
    owned.write_text("box:\n  task_assignments:\n    - {id: '5', message: hi}\n")
    done = run_cli(["lint", str(owned)])
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{owned}:3: box.task_assignments are kept by a resource module" in done.stdout, done.stdout
