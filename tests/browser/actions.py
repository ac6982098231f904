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
