"""In a real browser: headless Chromium (Debian's package) driven by Selenium. It watches
a workflow's jobs turn SUCCEEDED live (server-sent events, no reload), cancels another
workflow from its page, and saves screenshots (the path is printed).

Skips, saying why, when Chromium or chromedriver is missing; never passes without a
browser."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, sleep_spec

selenium = pytest.importorskip("selenium", reason="selenium is not installed (scripts/test-web installs it)")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = os.environ.get("BATON_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = os.environ.get("BATON_CHROMEDRIVER") or shutil.which("chromedriver")
SHOTS = Path(os.environ.get("BATON_SCREENSHOTS") or REPO / ".build" / "web-screenshots")


@pytest.fixture
def browser():
    if not CHROMIUM or not DRIVER or not os.access(CHROMIUM, os.X_OK) or not os.access(DRIVER, os.X_OK):
        pytest.skip(f"no headless browser: chromium={CHROMIUM!r}, chromedriver={DRIVER!r} "
                    "(apt-get install -y chromium chromium-driver; scripts/test-web does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1000",
                f"--user-data-dir={tempfile.mkdtemp(prefix='baton-chromium-')}"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def job_states(driver) -> list:
    """Read in one script call: the live script swaps these elements while we look."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#jobs td.job-state')).map(e => e.textContent.trim());")


def workflow_state(driver) -> str:
    return driver.execute_script("var e = document.getElementById('workflow-state'); return e ? e.textContent.trim() : null;")


def test_jobs_turn_succeeded_live_and_a_workflow_is_cancelled_from_its_page(cluster, browser):
    wait = WebDriverWait(browser, 30, poll_frequency=0.1)
    # The page is open before the workflow runs: everything after comes over the stream.
    wid = cluster.submit(sleep_spec("live-in-browser", 700, jobs=3))
    browser.get(f"{cluster.url}/workflows/{wid}")
    assert workflow_state(browser) == "SUBMITTED"
    assert job_states(browser) == ["PENDING"] * 3
    browser.execute_script("window.batonNoReload = true;")  # gone if the page reloads
    cluster.baton("exec", wid)

    wait.until(lambda d: "RUNNING" in job_states(d))
    shot(browser, "workflow-running")
    wait.until(lambda d: job_states(d) == ["SUCCEEDED"] * 3)
    wait.until(lambda d: workflow_state(d) == "SUCCEEDED")
    assert browser.execute_script("return window.batonNoReload === true;"), "the page reloaded instead of updating live"
    events = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#events li")]
    assert any("workflow.succeeded" in e for e in events), events
    wait.until(lambda d: "finished" in d.find_element(By.ID, "live-state").text)
    shot(browser, "workflow-succeeded")

    # Another workflow, cancelled from its page (with the confirmation dialog).
    long = cluster.submit(sleep_spec("cancel-in-browser", 60_000, jobs=1))
    cluster.baton("exec", long)
    browser.get(f"{cluster.url}/workflows/{long}")
    wait.until(lambda d: job_states(d) == ["RUNNING"])
    browser.find_element(By.CSS_SELECTOR, "#cancel-form button").click()
    wait.until(EC.alert_is_present())
    browser.switch_to.alert.accept()
    wait.until(lambda d: workflow_state(d) == "CANCELLED")
    assert "Cancel sent" in browser.find_element(By.TAG_NAME, "main").text
    assert job_states(browser) == ["CANCELLED"]
    assert cluster.status(long)["state"] == "CANCELLED"
    shot(browser, "workflow-cancelled")

    browser.get(f"{cluster.url}/")
    wait.until(lambda d: d.find_element(By.ID, "stop-state"))
    shot(browser, "overview")
    browser.get(f"{cluster.url}/workflows")
    shot(browser, "workflows")


def test_pages_fit_a_phone(cluster, browser):
    done = cluster.run(sleep_spec("phone", 10, jobs=2))
    browser.set_window_size(390, 844)
    browser.get(f"{cluster.url}/workflows/{done['id']}")
    width = browser.execute_script("return document.documentElement.scrollWidth;")
    inner = browser.execute_script("return window.innerWidth;")
    assert width <= inner + 1, f"the page scrolls sideways on a phone: {width} > {inner}"
    shot(browser, "phone-workflow")


def test_the_overview_refreshes_itself_and_then_shows_rates(cluster, browser):
    cluster.run(sleep_spec("rates", 10, jobs=2))
    browser.get(f"{cluster.url}/")
    assert "Rates appear from the next refresh" in browser.find_element(By.TAG_NAME, "main").text
    browser.execute_script("window.batonFirstLoad = true;")
    WebDriverWait(browser, 30, poll_frequency=0.5).until(
        lambda d: d.execute_script("return window.batonFirstLoad !== true;")
        and "attempts succeeded/s" in d.find_element(By.TAG_NAME, "main").text)
    shot(browser, "overview-rates")
