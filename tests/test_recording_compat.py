"""A suite written for pytest-recording (tests/data/pytest_recording_suite), run unchanged both
ways against the same cassettes: by pytest-recording with vcrpy, and by tapeproxy."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SUITE = Path(__file__).parent / "data" / "pytest_recording_suite"


def run(suite: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess:
    """pytest on the suite in a subprocess, as its own rootdir (its pytest.ini), offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")} | env_vars
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", *args],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def suite(tmp_path):
    """A copy: a run may not write into the repository (rewrite mode, a recorded cassette)."""
    pytest.importorskip("pytest_recording", reason="pytest-recording is a test dependency (pyproject's test extra)")
    copy = tmp_path / "suite"
    shutil.copytree(SUITE, copy)
    return copy


def outcome(done: subprocess.CompletedProcess) -> str:
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr


def test_the_same_suite_is_green_by_pytest_recording_and_by_tapeproxy(suite):
    tests = len(list(suite.rglob("cassettes/*/*.yaml")))  # at least one cassette per test, some share
    assert tests >= 5
    by_vcrpy = run(suite, "-p", "no:tapeproxy")
    assert by_vcrpy.returncode == 0, by_vcrpy.stdout + by_vcrpy.stderr
    by_tapeproxy = run(suite, "-p", "no:recording")  # as if pytest-recording were not installed
    assert by_tapeproxy.returncode == 0, by_tapeproxy.stdout + by_tapeproxy.stderr
    assert outcome(by_vcrpy).split(" in ")[0] == outcome(by_tapeproxy).split(" in ")[0]  # the same counts
    # with --block-network too (offline either way: the machine has no route out)
    for plugin in ("no:tapeproxy", "no:recording"):
        blocked = run(suite, "-p", plugin, "--block-network")
        assert blocked.returncode == 0, blocked.stdout + blocked.stderr
    # and nothing else could have answered: with neither plugin, the suite fails
    closed = "http://127.0.0.1:9"  # what a client reaches without either: a closed local port, not the world
    neither = run(suite, "-p", "no:recording", "-p", "no:tapeproxy", HTTPS_PROXY=closed, https_proxy=closed)
    assert neither.returncode != 0


def test_tapeproxy_serves_it_and_says_what_missed_in_its_own_words(suite):
    (suite / "cassettes").rename(suite / "moved")  # every cassette missing: each marked test misses
    said = run(suite, "-p", "no:recording").stdout
    assert "tapeproxy: no such cassette:" in said and "(record it with --record-mode=once)" in said
    assert "CannotOverwriteExistingCassetteException" not in said


def test_both_plugins_installed_pytest_recording_keeps_the_suite_unless_tapeproxy_is_asked_for(suite):
    both = run(suite)
    assert both.returncode == 0, both.stdout + both.stderr
    (suite / "cassettes").rename(suite / "moved")
    kept = run(suite).stdout
    assert "CannotOverwriteExistingCassetteException" in kept and "tapeproxy: no such cassette" not in kept
    asked = run(suite, "-o", "tapeproxy_recording_compat=true").stdout
    assert "tapeproxy: no such cassette" in asked and "CannotOverwriteExistingCassetteException" not in asked
