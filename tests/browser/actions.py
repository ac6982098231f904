"""What a person does in the browser, shared by the browser tests."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import PASSWORD


def fill(driver, name: str, value) -> None:
    field = driver.find_element(By.NAME, name)
    field.clear()
    field.send_keys(str(value))


def log_in(driver, site, username: str) -> None:
    driver.delete_all_cookies()
    driver.get(site.url + "/accounts/login/")
    fill(driver, "login", username)
    fill(driver, "password", PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.LINK_TEXT, "Create")))


def sign_up(driver, site, username: str, password: str) -> None:
    """A newcomer signs up on the site's own form (e-mail verification is optional on the
    embedded site, as under `make run`) and lands signed in."""
    driver.delete_all_cookies()
    driver.get(site.url + "/accounts/signup/")
    fill(driver, "email", f"{username}@example.com")
    fill(driver, "username", username)
    fill(driver, "password1", password)
    fill(driver, "password2", password)
    driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.LINK_TEXT, "Create")))


def mark_page(driver) -> None:
    """Leave a marker on the loaded document: it survives anything but a (re)load."""
    driver.execute_script("window.__notReloaded = true;")


def page_was_not_reloaded(driver) -> bool:
    return driver.execute_script("return window.__notReloaded === true;")


def next_page_after(driver, act, timeout: float = 20) -> None:
    """Do ``act()`` (a click, a submit) and wait until the browser has loaded the page it
    leads to: the old document's marker gone, the new one's loading done."""
    driver.execute_script("window.__leaving = true;")
    act()
    WebDriverWait(driver, timeout).until(
        lambda d: d.execute_script(
            "return window.__leaving !== true && document.readyState === 'complete';"
        )
    )
