"""Every main page, as a member and a visitor see it at desktop and phone widths.

One site, one member, one painted job (and one left painting), one browser: each page is
laid out at 1400 and 390 CSS pixels (at 390 once more with every <details> opened, and at
1400 in the dark scheme), photographed top to bottom, and checked for what a person
notices at once:

- the page is wider than the screen (it scrolls sideways);
- axe-core (vendored under ``vendor/axe-core``, injected into the page, never fetched at
  test time) finds a WCAG 2.0/2.1 level A or AA violation: contrast, names, labels, roles;
- what axe leaves out (``page_audit.js``): a text field's edge too faint to find, 3:1
  (WCAG 1.4.11), and a control whose keyboard focus shows no ring at 3:1 (2.4.7).

The pages are a table walked in one test, not one test each: a site, a member and a
painting per page would cost minutes. Every page is checked even after one fails, and
the failure lists them all, page by page.

Screenshots go to ``$LIKENESS_SCREENSHOTS`` when set (e.g. to refresh README's, or to
look at them), else to the test's own temporary directory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from generation.models import GenerationJob
from generation.services import job_cancel
from portraits.services import portrait_publish
from tests.browser.actions import (
    fill,
    log_in,
    prefer_colour_scheme,
    save_full_page_screenshot,
    submit_form_of,
    view_at_width,
)

pytestmark = [pytest.mark.browser, pytest.mark.inference]

# (width, colour scheme, everything folded away opened?): desktop and phone as the page
# opens; the phone with every <details> open (advanced fields, technical details and the
# menu must fit and pass too); the dark scheme, whose colours are what differs from light.
VIEWS = ((1400, "light", False), (390, "light", False), (390, "light", True), (1400, "dark", False))
WCAG_A_AA = {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}
# The dark scheme changes colours only: its own pass runs axe's colour rules alone.
COLOUR_RULES = {"type": "rule", "values": ["color-contrast", "link-in-text-block"]}
HERE = Path(__file__).parent
AXE = (HERE / "vendor" / "axe-core" / "axe.min.js").read_text()
AUDIT = (HERE / "page_audit.js").read_text()  # what axe leaves out: overflow, edges, focus

RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: arguments[0], resultTypes: ['violations']})
  .then((result) => done(result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: n.failureSummary})),
  }))))
  .catch((error) => done([{id: 'axe-error', impact: 'error', help: String(error), nodes: []}]));
"""


def check_page(driver, name: str, shots: Path) -> dict[str, list[str]]:
    """Screenshot and audit the loaded page in each view; its problems, by view."""
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.readyState === 'complete';")
    )
    driver.execute_script(AXE + AUDIT)
    # One real key press: from now on the page counts focus as keyboard focus, so the
    # focus check sees the rings (:focus-visible) a keyboard user sees.
    ActionChains(driver).send_keys(Keys.TAB).perform()
    driver.execute_script("document.activeElement.blur();")  # no skip link in screenshots
    problems = {}
    for width, scheme, unfolded in VIEWS:
        view_at_width(driver, width)
        prefer_colour_scheme(driver, scheme)
        if unfolded:
            driver.execute_script("pageAudit.unfold();")
        view = f"{width}" + ("" if scheme == "light" else f"-{scheme}")
        view += "-unfolded" if unfolded else ""
        found = []
        overflow = driver.execute_script("return pageAudit.overflow();")
        if overflow:
            found.append(
                f"scrolls sideways: {overflow['scrollWidth']} px wide in {overflow['width']}"
                f" (sticking out: {', '.join(overflow['culprits'])})"
            )
        faint = driver.execute_script("return pageAudit.faintFields();")
        if faint:
            found.append(
                "fields hard to make out (WCAG 1.4.11 asks 3:1 for their edge): " + "; ".join(faint)
            )
        # Focus rings change with the colours, not with the width: checked with everything
        # unfolded (all controls shown) and in the dark scheme.
        unseen = (unfolded or scheme == "dark") and driver.execute_script(
            "return pageAudit.unseenFocus();"
        )
        if unseen:
            found.append(
                "keyboard focus not visible (WCAG 2.4.7, ring at 3:1): "
                + "; ".join(unseen[:6])
                + (f" and {len(unseen) - 6} more" if len(unseen) > 6 else "")
            )
        rules = COLOUR_RULES if scheme == "dark" else WCAG_A_AA
        for violation in driver.execute_async_script(RUN_AXE, rules):
            nodes = "; ".join(
                node["target"] + _contrast_of(node["summary"]) for node in violation["nodes"][:4]
            )
            more = len(violation["nodes"]) - 4
            found.append(
                f"axe {violation['id']} ({violation['impact']}): {violation['help']}: {nodes}"
                + (f" and {more} more" if more > 0 else "")
            )
        save_full_page_screenshot(driver, shots / f"{name}-{view}.png")
        if unfolded:
            driver.execute_script("pageAudit.refold();")
        if found:
            problems[f"{name} @ {view}"] = found
    return problems


def _contrast_of(summary: str | None) -> str:
    """axe's contrast finding in a few words (" [2.02:1 #b8b0a6 on #faf8f5, needs 4.5:1]")."""
    found = re.search(
        r"contrast of ([\d.]+) \(foreground color: (#\w+), background color: (#\w+)"
        r".*expected contrast ratio of ([\d.]+:1)",
        summary or "",
        re.IGNORECASE | re.DOTALL,
    )
    return f" [{found[1]}:1 {found[2]} on {found[3]}, needs {found[4]}]" if found else ""


FLAWED_PAGE = f"""<!doctype html><html lang="en"><head><title>Flawed</title></head>
<body style="background:#faf8f5; margin:0"><main>
<h1>A page with five flaws</h1>
<p style="color:#b8b0a6">Faint words, 2:1 against the page.</p>
<label for="name">Name</label>
<input id="name" name="name" style="border:1px solid #e4ddd3; background:#faf8f5">
<button style="outline:none">Ringless</button> <button>Ringed</button>
<div style="width:600px">A strip wider than a phone.</div>
<details><summary>More</summary><pre class="wide-when-open">{"x" * 80}</pre></details>
</main></body></html>"""


def test_the_audit_reports_each_flaw_it_exists_to_catch(browser, tmp_path):
    """The harness itself: each flaw it exists to catch, on a page that has them all."""
    browser.set_script_timeout(60)
    browser.get("data:text/html;charset=utf-8," + quote(FLAWED_PAGE))

    problems = check_page(browser, "flawed", tmp_path)

    assert set(problems) == {
        "flawed @ 1400",
        "flawed @ 390",
        "flawed @ 390-unfolded",
        "flawed @ 1400-dark",
    }
    phone = "\n".join(problems["flawed @ 390"])
    assert "scrolls sideways: 600 px wide in 390" in phone
    assert "input#name[name=name] 1.27:1" in phone
    assert "axe color-contrast" in phone
    assert "[2.02:1 #b8b0a6 on #faf8f5, needs 4.5:1]" in phone
    assert "scrolls sideways" not in "\n".join(problems["flawed @ 1400"])
    unfolded = "\n".join(problems["flawed @ 390-unfolded"])
    assert "keyboard focus not visible" in unfolded
    assert "button (no outline)" in unfolded
    assert unfolded.count("button (") == 1  # the button with the browser's own ring is fine
    assert "wide-when-open" in unfolded  # what a closed <details> holds is audited too
    assert (tmp_path / "flawed-390.png").read_bytes().startswith(b"\x89PNG")


def job_has(job_id, **lookup):
    """A WebDriverWait condition on the job's row (the worker writes it, not the page)."""
    return lambda _driver: GenerationJob.objects.filter(pk=job_id, **lookup).exists()


def test_main_pages_fit_the_screen_and_pass_axe_at_desktop_and_phone_widths(
    embedded_site, browser, alice, tiny_model, tmp_path
):
    shots = Path(os.environ.get("LIKENESS_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    browser.set_script_timeout(60)
    wait = WebDriverWait(browser, 120)
    site = embedded_site.url
    problems: dict[str, list[str]] = {}

    def visit(name: str, path: str) -> None:
        browser.get(site + path)
        problems.update(check_page(browser, name, shots))

    log_in(browser, embedded_site, "alice")
    visit("create", "/create/")
    fill(browser, "prompt", "a cartographer at her desk, lamplit")
    submit_form_of(browser, "prompt")
    job = GenerationJob.objects.get(user=alice)
    wait.until(job_has(job.pk, status=GenerationJob.Status.SUCCEEDED))
    portrait = job.portraits.get()
    portrait_publish(portrait=portrait, by=alice)
    at = f"/p/{portrait.public_id}"

    visit("finished-job", f"/jobs/{job.pk}/")
    visit("portrait", f"{at}/")
    visit("remix-form", f"/create/?remix={portrait.public_id}")
    # Image-to-image chosen: the strength slider and its explanation show.
    browser.find_element(By.CSS_SELECTOR, "input[name=start_from][value=picture]").click()
    problems.update(check_page(browser, "remix-form-from-picture", shots))
    visit("credentials", f"{at}/credentials/")
    visit("verify-credentials", "/credentials/verify/")
    visit("home", "/")
    visit("explore", "/explore/")
    visit("profile", "/u/alice/")
    visit("tree", f"{at}/tree/")
    visit("my-jobs", "/jobs/")
    visit("my-portraits", "/me/portraits/")
    visit("notifications", "/notifications/")
    visit("settings", "/settings/")
    visit("tokens", "/settings/tokens/")
    browser.get(site + "/create/")
    fill(browser, "prompt", "a sitter asking too much")
    submit_form_of(browser, "prompt", steps=500, guidance_scale=99)  # over the model's limits
    assert GenerationJob.objects.filter(user=alice).count() == 1  # refused: the form, marked
    problems.update(check_page(browser, "create-with-errors", shots))

    # Minutes of painting at any load, so it is still painting when every view of its
    # page has been looked at (seconds); it is cancelled then, so the test never waits it out.
    tiny_model.max_steps = 5000
    tiny_model.save()
    browser.get(site + "/create/")
    fill(browser, "prompt", "a bell-ringer mid-swing")
    submit_form_of(browser, "prompt", steps=5000, width=256, height=256)
    live = GenerationJob.objects.get(user=alice, prompt="a bell-ringer mid-swing")
    wait.until(job_has(live.pk, progress_step__gte=1))
    browser.get(site + f"/jobs/{live.pk}/")
    problems.update(check_page(browser, "live-job", shots))
    live.refresh_from_db()
    assert live.status == GenerationJob.Status.RUNNING, "painted before the live page was seen"
    job_cancel(job=live, by=alice)  # its worker stops at the next step
    visit("cancelled-job", f"/jobs/{live.pk}/")

    browser.delete_all_cookies()
    visit("portrait-visitor", f"{at}/")
    visit("sign-in", "/accounts/login/")
    visit("sign-up", "/accounts/signup/")

    report = "\n".join(
        f"{page}:\n" + "\n".join(f"  - {line}" for line in found)
        for page, found in problems.items()
    )
    assert not problems, f"screenshots in {shots}\n{report}"
