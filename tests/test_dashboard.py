"""The dashboard (GET /ui) in a real headless Chromium, driven by selenium: the live journal with
its sources, misses and details; built-in scenarios switched on and off; the world reset; recording
started by the form and stopped; the page's token on every request it makes. One `tapeproxy demo`
and one browser serve the module; screenshots are kept (their folder is printed at the end).

Needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver); nothing is
downloaded (no Selenium Manager), and the page loads nothing from outside the proxy.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest
import requests
from helpers import BOX_TASK_URL, CliProxy, FakeApi, LocalHTTPS, proxied_session, write_cassette

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.exists()),
    reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER}): "
    "apt-get install chromium chromium-driver",
)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")

from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

MISS_URL = "https://graph.microsoft.com/zzz/dashboard"  # no route in the spec, no recording: a miss
TOKEN_META = 'meta[name="tapeproxy-token"]'
WAIT = 30  # an upper bound for what the page is waited on to show, never a measurement


def chromium(profile: Path, *args: str):
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
        *args,
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the page's console, for script errors
    # With the driver's path given, selenium does not run Selenium Manager (which would download one);
    # SE_OFFLINE says the same to it, should a version of selenium run it anyway.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")
        return webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)


class Dashboard:
    """The page in the browser, the demo behind it and the control API beside it."""

    def __init__(self, driver, proxy: CliProxy, control: str, shots: list[Path]) -> None:
        self.driver, self.proxy, self.control, self.shots = driver, proxy, control, shots
        self.client = proxied_session(proxy)  # an app's calls, through the proxy
        self.direct = requests.Session()  # the control port, as a test harness calls it
        self.direct.trust_env = False

    def api(self, method: str, path: str, **kw) -> requests.Response:
        return self.direct.request(method, self.control + path, timeout=30, **kw)

    def find(self, css: str):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def until(self, condition, what: str):
        """Wait until condition(driver) is truthy (the page polls the proxy about every second)."""
        wait = WebDriverWait(self.driver, WAIT, 0.05, ignored_exceptions=[StaleElementReferenceException])
        return wait.until(condition, message=f"the page never showed {what}")

    def shows(self, css: str, text: str) -> str:
        """Wait until an element matching css shows text; that element's text."""

        def found(_):
            return next((e.text for e in self.finds(css) if text in e.text), None)

        return self.until(found, f"{text!r} in {css}")

    def row(self, call_id: int) -> str:
        return f'tbody.call[data-id="{call_id}"]'

    def last_id(self, **query) -> int:
        return self.api("GET", "/requests", params={**query, "limit": 1}).json()["requests"][-1]["id"]

    def shot(self, name: str) -> None:
        first = self.shots[0] / f"{name}.png"
        assert self.driver.save_screenshot(str(first)), first
        for folder in self.shots[1:]:
            shutil.copy(first, folder / first.name)


def control_url(proxy: CliProxy) -> str:
    """The control port, from the start-up line ("... | control http://127.0.0.1:PORT | ...")."""
    found = re.search(r"\| control (http://\S+) \|", proxy.banner)
    assert found, proxy.banner
    return found.group(1)


@pytest.fixture(scope="module")
def shots(tmp_path_factory, request):
    """Where screenshots go: a folder of the run's temporary tree (pytest keeps the last few runs),
    and $TAPEPROXY_SCREENSHOTS too if set."""
    folders = [tmp_path_factory.mktemp("dashboard-screenshots")]
    if os.environ.get("TAPEPROXY_SCREENSHOTS"):
        folders.append(Path(os.environ["TAPEPROXY_SCREENSHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    yield folders
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\ndashboard screenshots: " + ", ".join(map(str, folders)))


@pytest.fixture(scope="module")
def upstream_api(tmp_path_factory):
    """A local HTTPS stand-in for Graph, for recording to record from."""
    FakeApi.counter = 0
    server = LocalHTTPS(tmp_path_factory.mktemp("dashboard-upstream"), FakeApi)
    yield server
    server.close()


@pytest.fixture(scope="module")
def dashboard(confdir, tmp_path_factory, upstream_api, shots):
    tapes = tmp_path_factory.mktemp("dashboard-tapes")
    proxy = CliProxy(
        ["demo", "--record-dir", str(tapes), "--set", f"ssl_verify_upstream_trusted_ca={upstream_api.cert}"], confdir
    )
    control = control_url(proxy)
    driver = chromium(tmp_path_factory.mktemp("chromium-profile"), "--no-proxy-server")
    try:
        page = Dashboard(driver, proxy, control, shots)
        page.tapes = tapes
        driver.get(page.control + "/ui")
        page.shows('#health [data-health="version"]', "version")
        yield page
        # Chromium logs each 4xx a fetch is answered (the page shows them); anything else is a script error.
        logged = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert [m for m in logged if "Failed to load resource" not in m] == []
    finally:
        driver.quit()
        proxy.stop()


def test_the_page_carries_its_token_and_shows_health(dashboard):
    page = dashboard
    health = page.api("GET", "/health").json()
    assert page.shows('#health [data-health="version"]', health["version"]) == f"version {health['version']}"
    assert page.find('#health [data-health="mode"]').text == "mode regular"
    assert page.find('#health [data-health="record_mode"]').text == "record mode none"
    assert page.find('#health [data-health="simulate"]').text == "simulation on"
    page.shows("#status.live", "live")  # its polls of GET /requests are answered

    token = page.find(TOKEN_META).get_attribute("content")
    assert token and "TAPEPROXY" not in token and "__TAPEPROXY_PAGE_TOKEN__" not in page.driver.page_source
    # The same page at / for a browser, and through the proxy at http://tapeproxy/, with the same token.
    for served in (
        page.api("GET", "/", headers={"Accept": "text/html"}),
        page.client.get("http://tapeproxy/ui", timeout=30),
    ):
        assert served.status_code == 200 and served.headers["Content-Type"].startswith("text/html")
        assert f'content="{token}"' in served.text
    assert "builtin" in page.api("GET", "/", headers={"Accept": "application/json"}).json()  # an API client: JSON

    # What makes the page's calls succeed: a call with an Origin (any site's page) is refused without it.
    site = {"Origin": "http://evil.example"}
    for refused in (page.api("GET", "/health", headers=site), page.client.get("http://tapeproxy/health", headers=site)):
        assert refused.status_code == 403 and "Origin" in refused.json()["error"]
    assert page.api("POST", "/scenarios/reset", headers={**site, "X-Tapeproxy-Token": "guessed"}).status_code == 403
    assert page.api("GET", "/health", headers={**site, "X-Tapeproxy-Token": token}).status_code == 200
    page.shot("01-health")


def test_the_journal_shows_each_request_its_source_a_miss_and_the_details(dashboard):
    page = dashboard
    page.find("#journal-clear").click()
    page.shows("#journal-result", "cleared")
    assert page.finds("tbody.call") == []

    assert page.client.get(BOX_TASK_URL, timeout=30).status_code == 200
    task = page.last_id()
    assert page.client.get(MISS_URL, timeout=30).status_code == 404
    miss = page.last_id(source="miss")

    found = page.shows(page.row(task), "api.box.com/2.0/tasks/11446498")
    page.shows(page.row(miss), MISS_URL)  # perhaps a poll later
    assert "GET" in found and "200" in found
    assert page.find(f'{page.row(task)} [data-col="source"]').text == "simulation"
    assert page.find(page.row(miss)).get_attribute("data-source") == "miss"
    assert page.find(f'{page.row(miss)} [data-col="status"]').text == "404"
    assert page.find(f'{page.row(miss)} [data-miss="closest"]').text == "closest: graph-print-tasks.yaml #1"
    assert "path differs: '/zzz/dashboard'" in page.find(f'{page.row(miss)} [data-miss="differences"]').text
    reason = page.find(f'{page.row(miss)} [data-col="served_by"]').get_attribute("title")
    assert reason.startswith("MISS: no recorded interaction matches GET " + MISS_URL)  # all of it on hovering
    colours = {page.find(f"{page.row(i)} .badge").value_of_css_property("color") for i in (task, miss)}
    assert len(colours) == 2  # coloured per source
    page.shot("02-journal")

    page.find(f'{page.row(task)} [data-col="url"]').click()
    page.until(lambda d: page.find("#detail").get_attribute("data-id") == str(task), f"the details of #{task}")
    assert page.find("#detail").is_displayed()
    assert page.find("#detail-title").text == f"#{task} GET {BOX_TASK_URL}"
    sent = page.find("#detail-request-headers").text
    assert "Authorization Bearer REDACTED-" in sent and "Bearer demo" not in sent  # secrets as placeholders
    assert "box-request-id" in page.find("#detail-response-headers").text
    assert '"message": "Legal review"' in page.find("#detail-response-body").text  # pretty-printed JSON
    assert page.find("#detail-request-body").text == "(empty)"
    page.shot("03-detail")

    page.find("#filter").send_keys("miss zzz")
    page.until(lambda d: not page.find(page.row(task)).is_displayed(), "the filter hiding the Box row")
    assert page.find(page.row(miss)).is_displayed() and page.find("#journal-count").text == "1 of 2 shown"
    page.find("#filter").send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)  # typed away: an input event
    page.until(lambda d: page.find(page.row(task)).is_displayed(), "every row again")
    page.find("#detail-close").click()
    assert not page.find("#detail").is_displayed()


def active(page: Dashboard) -> list[str]:
    return [s["name"] for s in page.api("GET", "/scenarios").json()["scenarios"]]


def test_a_builtin_scenario_is_switched_on_and_off_by_its_toggle(dashboard):
    page = dashboard
    name = "box-throttle-once"
    builtin = page.api("GET", "/scenarios").json()["builtin"]
    page.until(lambda d: len(page.finds("#builtin input[data-scenario]")) == len(builtin), "every built-in scenario")
    toggle = page.find(f'input[data-scenario="{name}"]')
    assert not toggle.is_selected() and name not in active(page)

    page.find(f'label[for="scenario-{name}"]').click()
    page.shows("#scenarios-result", f"{name} on")
    assert toggle.is_selected() and active(page) == [name]
    throttled = page.client.get(BOX_TASK_URL, timeout=30)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "1"
    assert throttled.json()["code"] == "rate_limit_exceeded"
    row = page.row(page.last_id())
    assert page.shows(f'{row} [data-col="source"]', "scenario")
    assert "box-throttle-once rule 1" in page.find(f'{row} [data-col="served_by"]').get_attribute("title")
    rule = f'#active [data-active="{name}"] tr[data-rule="1"]'
    page.shows(f'{rule} [data-col="fired"]', "fired 1")
    page.shot("04-scenario")

    assert page.client.get(BOX_TASK_URL, timeout=30).status_code == 200  # once per endpoint
    page.find("#scenarios-reset").click()
    page.shows(f'{rule} [data-col="fired"]', "fired 0")
    page.shows("#scenarios-result", "counters reset")
    assert page.client.get(BOX_TASK_URL, timeout=30).status_code == 429  # counting again from the start

    toggle.click()
    page.shows("#scenarios-result", f"{name} off")
    assert not toggle.is_selected() and active(page) == []
    page.shows("#active", "none")
    assert page.client.get(BOX_TASK_URL, timeout=30).status_code == 200


def test_reset_world_brings_back_what_was_deleted_and_shows_the_counts(dashboard):
    page = dashboard
    task = "https://api.box.com/2.0/tasks/11446601"
    assert page.client.delete(task, timeout=30).status_code == 204
    assert page.client.get(task, timeout=30).status_code == 404

    page.find("#world-reset").click()
    summary = page.shows("#world-result [data-reset]", "world reset:")
    counts = page.api("POST", "/world/reset").json()  # nothing changed since: what the page was answered
    assert summary == f"world reset: {counts['records']} record(s) in {counts['collections']} collection(s)"
    tasks = counts["counts"]["Box task(s)"]
    assert page.find('#world-result [data-count="Box task(s)"]').text == f"Box task(s): {tasks}"
    assert page.client.get(task, timeout=30).status_code == 200
    page.shot("05-world")


def test_recording_started_by_the_form_and_stopped_says_what_was_saved(dashboard, upstream_api):
    page = dashboard
    page.shows("#recording-status", f"not recording; cassettes go to {page.tapes}")
    assert not page.find("#recording-start").get_attribute("disabled")
    assert page.find("#recording-stop").get_attribute("disabled")

    page.find("#cassette").send_keys("notes.txt")
    page.find("#recording-start").click()
    page.shows("#recording-result.error", "a cassette is a .yaml file")  # the API's 400, in the page

    page.find("#cassette").clear()
    page.find("#cassette").send_keys("dashboard.yaml")
    page.find('#record-mode option[value="all"]').click()
    page.find("#upstream").send_keys(f"graph.microsoft.com=https://127.0.0.1:{upstream_api.port}")
    page.find("#recording-start").click()
    cassette = page.tapes / "dashboard.yaml"
    page.shows("#recording-status", f"recording (all) to {cassette}: 0 recorded")
    status = page.api("GET", "/recording").json()
    assert status["recording"] is True and status["record_mode"] == "all" and status["cassette"] == str(cassette)
    page.shows('#health [data-health="record_mode"]', "record mode all")

    recorded = page.client.get("https://graph.microsoft.com/v1.0/dashboard/seq", timeout=30)
    assert recorded.status_code == 200 and recorded.json() == {"n": 1}  # from the stand-in upstream
    page.shows("#recording-status", "1 recorded")
    page.shows(f'{page.row(page.last_id())} [data-col="source"]', "upstream")
    page.shot("06-recording")

    page.find("#recording-stop").click()
    said = page.shows("#recording-result", "saved 1 of 1 interaction(s)")
    assert said.startswith(f"saved 1 of 1 interaction(s) to {cassette}; ") and said.endswith("replayed from now on")
    assert cassette.is_file() and "/v1.0/dashboard/seq" in cassette.read_text()
    page.shows("#recording-status", "not recording")
    assert page.api("GET", "/recording").json()["recording"] is False
    upstream_api.close()  # gone: what was saved answers now
    assert page.client.get("https://graph.microsoft.com/v1.0/dashboard/seq", timeout=30).json() == {"n": 1}
    page.shows(f'{page.row(page.last_id())} [data-col="source"]', "cassette")
    page.shot("07-recorded")


def test_the_page_works_through_the_proxy_at_http_tapeproxy(dashboard, tmp_path):
    """A browser whose proxy is tapeproxy opens http://tapeproxy/ (the page at /, for a browser);
    its calls, with an Origin and the token, go through the proxy too."""
    page = dashboard
    driver = chromium(tmp_path / "profile", f"--proxy-server={page.proxy.url}")
    try:
        driver.get("http://tapeproxy/")
        proxied = Dashboard(driver, page.proxy, page.control, page.shots)
        proxied.shows('#health [data-health="simulate"]', "simulation on")
        proxied.shows("#status.live", "live")
        proxied.find("#scenarios-reset").click()  # a POST: Chromium sends an Origin
        proxied.shows("#scenarios-result", "counters reset")
        proxied.shot("08-through-the-proxy")
    finally:
        driver.quit()


def test_the_page_shows_the_apis_refusals_where_they_were_asked(dashboard, start_cli, tmp_path):
    """`tapeproxy replay` without --record-dir: no world to reset (409), no folder to record to (400)."""
    proxy = start_cli("replay", str(write_cassette(tmp_path / "empty.yaml", [])))
    driver = chromium(tmp_path / "profile", "--no-proxy-server")
    try:
        driver.get(control_url(proxy) + "/ui")
        page = Dashboard(driver, proxy, control_url(proxy), dashboard.shots)
        page.shows('#health [data-health="simulate"]', "simulation off")
        page.shows("#recording-status", "recording over the control API is off")

        page.find("#world-reset").click()
        said = page.shows("#world-result.error", "POST /world/reset: ")
        assert said == "POST /world/reset: " + page.api("POST", "/world/reset").json()["error"]  # the 409's words
        page.find("#cassette").send_keys("tape.yaml")
        page.find("#recording-start").click()
        page.shows("#recording-result.error", "POST /recording: recording over the control API is off")
        assert page.api("GET", "/recording").json()["recording"] is False
        page.shot("09-refusals")
    finally:
        driver.quit()
