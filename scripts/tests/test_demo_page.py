# The demo page in headless Chromium (Debian chromium + chromium-driver, driven by selenium): upload, results, errors.
import os
import pathlib
import shutil

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ARTIFACTS, CATS, IMAGES

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")
WAIT_SECONDS = 60


@pytest.fixture
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        assert pathlib.Path(path).exists(), f"{path} not found: scripts/setup installs Debian's chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1100,720", "--hide-scrollbars"):
        options.add_argument(argument)
    # Both paths given: selenium never reaches for Selenium Manager (which would try to download).
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(browser, glimpse):
    browser.get(glimpse.http + "/")
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: b.find_element(By.ID, "model").get_attribute("data-loaded") == "true")


def upload(browser, path):
    browser.find_element(By.ID, "file").send_keys(str(path))
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: b.find_element(By.ID, "status").get_attribute("data-state") in ("done", "error"))


def test_page_classifies_the_cat(browser, glimpse):
    open_page(browser, glimpse)
    assert browser.title == "Glimpse"
    assert [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#model option")] == ["lite0"]
    upload(browser, IMAGES / "cat.jpg")
    assert browser.find_element(By.ID, "status").get_attribute("data-state") == "done", \
        browser.find_element(By.ID, "error").text
    results = browser.find_elements(By.CSS_SELECTOR, "#results li.result")
    labels = [(int(r.get_attribute("data-index")), r.get_attribute("data-label"), float(r.get_attribute("data-probability")))
              for r in results]
    print("\npage shows:", labels)
    assert len(labels) == 3
    assert labels[0][0] in CATS, labels
    assert labels[0][1] in results[0].text  # the label is on screen, not only in an attribute
    assert labels[0][2] >= labels[1][2] >= labels[2][2]
    assert browser.find_element(By.ID, "timing-server").text.endswith("s")
    assert browser.find_element(By.ID, "timing-roundtrip").text.endswith("ms")
    assert not browser.find_element(By.ID, "error").is_displayed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "demo.png"
    browser.save_screenshot(str(screenshot))
    print(f"screenshot: {screenshot}")


def test_page_shows_the_servers_error(browser, glimpse, tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_bytes(b"Meeting notes, saved as .jpg by mistake")
    open_page(browser, glimpse)
    upload(browser, fake)
    assert browser.find_element(By.ID, "status").get_attribute("data-state") == "error"
    error = browser.find_element(By.ID, "error")
    assert error.is_displayed()
    assert "INVALID_ARGUMENT" in error.text and "JPEG" in error.text, error.text
    assert browser.find_elements(By.CSS_SELECTOR, "#results li.result") == []
    # Nor can the browser show it: the drop zone says so instead of showing a broken image.
    WebDriverWait(browser, WAIT_SECONDS).until(
        lambda b: "unviewable" in b.find_element(By.ID, "drop").get_attribute("class"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "demo-error.png"))
