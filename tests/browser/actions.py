"""What a person does in the browser, shared by the browser tests."""

from __future__ import annotations

import base64

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


def submit_form_of(driver, field_name: str, **hidden_fields) -> None:
    """Submit the form holding the field ``field_name``, first setting ``hidden_fields`` by
    script: advanced fields may sit in a collapsed <details>, where a person would open it
    first; what is tested here is what the form sends, not how it folds."""
    driver.execute_script(
        """
        const form = document.querySelector(`[name="${arguments[0]}"]`).form;
        for (const [name, value] of Object.entries(arguments[1])) {
          form.elements[name].value = value;
        }
        window.__leaving = true;
        form.requestSubmit();
        """,
        field_name,
        {name: str(value) for name, value in hidden_fields.items()},
    )
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script(
            "return window.__leaving !== true && document.readyState === 'complete';"
        )
    )


def view_at_width(driver, width: int, height: int = 900) -> None:
    """Lay the page out as a screen ``width`` CSS pixels wide would (a phone at 390, a
    desktop at 1400): the viewport itself, not the window, so media queries and
    ``innerWidth`` see exactly this width, whatever the headless window's size."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    # Phones and most desktops overlay their scrollbars: the page gets the full width.
    driver.execute_cdp_cmd("Emulation.setScrollbarsHidden", {"hidden": True})


def save_full_page_screenshot(driver, path) -> None:
    """The whole page, top to bottom (and anything sticking out on the right), as a PNG."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size, viewport = metrics["cssContentSize"], metrics["cssLayoutViewport"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {
                "x": 0,
                "y": 0,
                "width": max(size["width"], viewport["clientWidth"]),
                "height": max(size["height"], viewport["clientHeight"]),
                "scale": 1,
            },
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def prefer_colour_scheme(driver, scheme: str) -> None:
    """Show the page as a browser set to ``scheme`` ("light" or "dark") would."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )
