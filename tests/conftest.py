import os

import pytest
from helpers import SECRETS, CliProxy, FakeApi, LocalHTTPS


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_any_cassette(tmp_path_factory):
    """After the run: no cassette any test wrote holds a secret the tests sent."""
    yield
    root = tmp_path_factory.getbasetemp()
    cassettes = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    leaks = [
        f"{p}: {name}"
        for p in cassettes
        for name, secret in SECRETS.items()
        if secret.split("=")[-1] in p.read_text(errors="replace")
    ]
    assert not leaks, "secrets in cassettes:\n" + "\n".join(leaks)


@pytest.fixture(scope="session", autouse=True)
def own_home(tmp_path_factory):
    """A home of the run's own: whatever runs without --confdir makes its CA in ~/.mitmproxy,
    and the user's own is not the tests' to write."""
    home = tmp_path_factory.mktemp("home")
    saved = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    yield home
    if saved is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = saved


@pytest.fixture(scope="session")
def confdir(tmp_path_factory):
    """One mitmproxy confdir (and CA) for the whole run."""
    return tmp_path_factory.mktemp("confdir")


@pytest.fixture
def start_cli(confdir):
    """Start `tapeproxy ARGS` (port 0, the session confdir); stopped at teardown."""
    started = []

    def start(*args, env=None) -> CliProxy:
        proxy = CliProxy(list(args), confdir, env)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`tapeproxy demo` shared by a module: use only for requests whose order does not matter."""
    proxy = CliProxy(["demo"], tmp_path_factory.mktemp("democonf"))
    yield proxy
    proxy.stop()


@pytest.fixture
def upstream(tmp_path):
    server = LocalHTTPS(tmp_path)
    yield server
    server.close()


@pytest.fixture
def api(tmp_path):
    """A local HTTPS stand-in for Graph and Box (see helpers.FakeApi)."""
    FakeApi.counter = 0
    server = LocalHTTPS(tmp_path, FakeApi)
    yield server
    server.close()
