"""The event-stream builder gives exactly what PyYAML's safe loader gives, or hands over to it."""

import datetime
import time

import pytest
import yaml

from tapeproxy.core import yamlevents, yamlfile
from tapeproxy.core.errors import InputError

DOCUMENTS = {
    "cassette": """
interactions:
- request: {body: null, headers: {Accept: ['*/*']}, method: GET, uri: 'https://api.box.com/2.0/tasks/1'}
  response:
    body: {string: '{"id": "1"}'}
    headers: {Content-Type: [application/json]}
    status: {code: 200, message: OK}
version: 1
""",
    "implicit types": "[yes, No, on, OFF, true, ~, null, '', 1, -2, 0x1F, 0o17, 1_000, 1.5, .inf, -.Inf, .nan, 1e3, "
    "2026-11-22, 'yes', \"1\", 12:30, +7, abc]",
    "explicit tags": "a: !!str 1\nb: !!int '7'\nc: !!binary aGVsbG8=\nd: !!python/str x\ne: !!float 1\nf: !!null ''\n",
    "anchors": "base: &b {x: 1, y: [1, 2]}\nuse: *b\nlist: &l [a, b]\nagain: *l\nscalar: &s hello\ns2: *s\n",
    "block scalars": 'a: |\n  line 1\n  line 2\nb: >\n  folded\n  text\nc: "esc\\u00e9\\n"\n',
    "nested": "- - - [1, {a: {b: [2, 3]}}]\n- {}\n- []\n- ''\n",
    "scalar root": "hello\n",
    "empty": "",
    "comment only": "# nothing\n",
    "non-string keys": "1: one\ntrue: yes\n~: none\n2026-01-01: day\n",
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_same_data_as_the_safe_loader(name):
    text = DOCUMENTS[name]
    expected = yaml.load(text, Loader=yamlfile.Loader)
    got = yamlfile.parse(text, "doc.yaml")[0]
    assert got == expected or (got != got and expected != expected)  # nan
    assert repr(got) == repr(expected)  # types too: 1 vs 1.0 vs '1', date vs str


def test_event_builder_handles_the_common_documents_itself():
    for name in ("cassette", "implicit types", "anchors", "block scalars", "nested", "non-string keys"):
        loader = yamlfile.Loader(DOCUMENTS[name])
        try:
            yamlevents.build(loader)  # raises Unhandled if it hands over
        finally:
            loader.dispose()


@pytest.mark.parametrize(
    "text",
    [
        "a: &x {k: 1}\nb:\n  <<: *x\n  j: 2\n",  # merge key
        "? [a, b]\n: complex key\n",
        "s: !!set {a, b}\n",
        "o: !!omap [a: 1, b: 2]\n",
    ],
)
def test_what_it_does_not_handle_goes_to_the_full_loader(text):
    loader = yamlfile.Loader(text)
    try:
        with pytest.raises(yamlevents.Unhandled):
            yamlevents.build(loader)
    finally:
        loader.dispose()
    if text.startswith("? "):
        with pytest.raises(InputError):  # unhashable key: the full loader's error, as before
            yamlfile.parse(text, "doc.yaml")
    else:
        assert yamlfile.parse(text, "doc.yaml")[0] == yaml.load(text, Loader=yamlfile.Loader)


@pytest.mark.parametrize(
    "text, line, words",
    [
        ("a: !!python/object:os.system x\n", 1, "tag tag:yaml.org,2002:python/object:os.system is not allowed"),
        ("a: 1\nb: [1, 2\n", 3, "expected ',' or ']'"),
        ("--- a\n--- b\n", 2, "more than one YAML document"),
        ("a: *missing\n", 1, "found undefined alias"),
        ("a: !!binary 'not base64!'\n", 1, "failed to decode base64"),
        ("a: 1\nb: !!int 'x'\n", 2, "'x' is not a valid int"),
    ],
)
def test_errors_are_the_full_loaders_with_their_line(text, line, words):
    with pytest.raises(InputError) as e:
        yamlfile.parse(text, "doc.yaml")
    assert words in str(e.value)
    assert e.value.line == line


def test_timestamps_keep_their_type():
    data = yamlfile.parse("t: 2026-11-22T10:00:00Z\nd: 2026-11-22\n", "doc.yaml")[0]
    assert isinstance(data["t"], datetime.datetime) and isinstance(data["d"], datetime.date)


@pytest.mark.parametrize(
    "text, line",
    [
        ("a: 1\nb: 2\na: 3\n", 3),  # the event builder's path
        ("x: !!set {q}\nm:\n  k: 1\n  k: 2\n", 4),  # the full loader's path (a tag it hands over)
    ],
)
def test_a_key_given_twice_is_refused_at_its_line(text, line):
    with pytest.raises(InputError, match=rf"doc\.yaml:{line}: key '[ak]' appears twice in this mapping"):
        yamlfile.parse(text, "doc.yaml")


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize("text", [BOMB, "s: !!set {q}\n" + BOMB])  # both loading paths
def test_an_alias_bomb_is_refused_at_once(text):
    began = time.monotonic()
    with pytest.raises(InputError, match=r"doc\.yaml:[23]: aliases expand this document past 10,000,000"):
        yamlfile.parse(text, "doc.yaml")
    assert time.monotonic() - began < 1  # bounded work, not a walk over 387 million values


def test_a_long_string_reused_by_alias_is_refused():
    text = "h: &h " + "x" * 1_000_000 + "\nheaders: [" + ", ".join(["*h"] * 2000) + "]\n"
    with pytest.raises(InputError, match=r"doc\.yaml:2: aliases expand"):
        yamlfile.parse(text, "doc.yaml")


@pytest.mark.parametrize("opener, closer", [("[", "]"), ("{a: ", "}")])
def test_nesting_past_the_bound_is_a_file_line_error(opener, closer):
    depth = yamlevents.MAX_DEPTH + 300
    text = "json: " + opener * depth + "1" + closer * depth + "\n"
    with pytest.raises(InputError, match=rf"doc\.yaml:1: nested more than {yamlevents.MAX_DEPTH} levels deep"):
        yamlfile.parse(text, "doc.yaml")
    with pytest.raises(InputError, match=r"doc\.yaml:\d+: nested more than"):  # the full loader's path too
        yamlfile.parse("s: !!set {q}\n" + text, "doc.yaml")
