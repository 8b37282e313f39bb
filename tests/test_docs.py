"""The reference in docs/ stays true: every example loads, every CLI option is documented."""

import re

import pytest

from helpers import ROOT
from tapeproxy.cli import build_parser
from tapeproxy.core import cassette, scenario
from tapeproxy.sim.world import World

DOCS = ROOT / "docs"
LOADERS = {"scenarios.md": scenario.load, "world.md": World.load, "cassettes.md": cassette.load}


@pytest.mark.parametrize("doc", sorted(LOADERS))
def test_every_yaml_example_loads(doc, tmp_path):
    blocks = re.findall(r"```yaml\n(.*?)```", (DOCS / doc).read_text(), re.S)
    assert blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"example-{i}.yaml"
        path.write_text(block)
        LOADERS[doc](path)  # raises with file:line on any mistake


def test_every_cli_option_is_documented():
    text = (DOCS / "cli.md").read_text() + (ROOT / "README.md").read_text()
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, sub in commands.items():
        assert f"`{name}" in text, name
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert flag in text, f"{name} {flag} is not documented"
