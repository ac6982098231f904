"""A visitor finds their way around the community, joins it, and is heard at once.

Not signed in, they browse the gallery (another sort, then infinite scroll past the first
page), search it, open a portrait and its family tree; then they sign up, like a portrait
and follow its author without a reload, and the moment another member follows them the
unread badge in their navigation says so, pushed over ``ws/notifications/``.

The portraits are rows made by the factories (no painting), published through
``portraits.services.portrait_update`` as the site publishes them; the site is
``make run``'s server on the test database (tests/browser/conftest.py).
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.db import transaction
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from accounts.models import User
from accounts.services import api_token_create
from gallery.models import Follow, Like, Notification
from gallery.services import like_add
from portraits.community import portrait_activity_record
from portraits.models import Portrait
from portraits.services import portrait_update
from tests import support
from tests.browser.actions import mark_page, next_page_after, page_was_not_reloaded, sign_up
from tests.browser.conftest import EmbeddedSite
from tests.portraits.factories import PortraitFactory, recipe_for

pytestmark = pytest.mark.browser

PAGE_SIZE = 24  # gallery.selectors.PAGE_SIZE: one more page than that must exist
FILLERS = PAGE_SIZE + 2

# Records every WebSocket the page opens and what it hears, from before its own scripts
# run, so the test knows when the notifications socket is live (its first message is the
# unread count the server sends on connect).
RECORD_SOCKETS = """
window.__sockets = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Native(...args);
  const record = {url: String(args[0]), messages: []};
  window.__sockets.push(record);
  socket.addEventListener('message', (event) => record.messages.push(JSON.parse(event.data)));
  return socket;
};
window.WebSocket.prototype = Native.prototype;
for (const name of ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED']) window.WebSocket[name] = Native[name];
"""


@pytest.fixture
def site(transactional_db, style_presets, tmp_path):
    """The embedded site without a model to paint with: nothing here paints."""
    site = EmbeddedSite(tmp_path)
    site.start()
    try:
        yield site
    finally:
        support.stop(site.process)


def publish(portrait: Portrait) -> Portrait:
    """Publish a private factory portrait as its owner does (``published_at``, trending,
    the ``portrait_published`` signal and its notifications)."""
    return portrait_update(portrait=portrait, by=portrait.author, data={"visibility": "public"})


def remix_of(parent: Portrait, author, prompt: str, **fields) -> Portrait:
    """A remix row, counted on its parent as ``portrait_create_from_job`` counts one."""
    with transaction.atomic():
        child = PortraitFactory(
            author=author,
            parent=parent,
            recipe=recipe_for(prompt, seed=parent.pk + 1),
            visibility=Portrait.Visibility.PRIVATE,
            **fields,
        )
        portrait_activity_record(portrait_id=parent.pk, kind="remix", at=child.created_at, delta=1)
    return child


@pytest.fixture
def community(make_user):
    """Three members, a page and a bit of plain portraits, two of them liked, and one
    family: alice's lighthouse keeper, bob's public remix of it, carol's private remix
    of bob's. Only the family's prompts say "lighthouse"."""
    alice = make_user("alice", display_name="Alice Liddell")
    bob = make_user("bob", display_name="Bob Marley")
    carol = make_user("carol", display_name="Carol Ann")
    fillers = [
        publish(
            PortraitFactory(
                author=(alice, bob, carol)[n % 3],
                title=f"Study {n}",
                visibility=Portrait.Visibility.PRIVATE,
            )
        )
        for n in range(FILLERS)
    ]
    like_add(user=bob, portrait=fillers[3])
    like_add(user=carol, portrait=fillers[3])
    like_add(user=carol, portrait=fillers[7])

    original = PortraitFactory(
        author=alice,
        title="The lighthouse keeper",
        recipe=recipe_for("a lighthouse keeper with a grey beard"),
        visibility=Portrait.Visibility.PRIVATE,
    )
    publish(original)
    remix = publish(
        remix_of(original, bob, "a lighthouse keeper with a red beard", title="Red beard")
    )
    hidden_branch = remix_of(
        remix, carol, "a lighthouse keeper with a red beard at night", title="Night watch"
    )
    return {
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "most_liked": fillers[3],
        "liked_once": fillers[7],
        "original": original,
        "remix": remix,
        "private": hidden_branch,
        "public_count": FILLERS + 2,
    }


def card_ids(driver) -> list[str]:
    """The portraits the grid shows, in order (read in one go: the grid may be growing)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('[data-gallery-grid] [data-id]'),"
        " (card) => card.dataset.id);"
    )


def follow_by_api(site, token: str, username: str) -> dict:
    """Another member, with their own API token, follows ``username`` on the live site."""
    request = urllib.request.Request(
        f"{site.url}/api/v1/users/{username}/follow/",
        method="PUT",
        headers={"Authorization": f"Token {token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def test_visitor_browses_searches_opens_a_tree_then_joins_likes_follows_and_hears_of_it(
    site, browser, community
):
    wait = WebDriverWait(browser, 20)
    browser.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_SOCKETS})

    # --- A visitor browses: the newest first, then more as they scroll. -----------------
    browser.get(site.url + "/")
    mark_page(browser)
    newest = card_ids(browser)
    assert newest[:2] == [community["remix"].public_id, community["original"].public_id]
    assert community["private"].public_id not in browser.page_source
    # Infinite scroll: the "Load more" link, scrolled to, brings the rest in place; the
    # server sends one page only (with that link, a plain link without JavaScript).
    with urllib.request.urlopen(site.url + "/", timeout=20) as response:
        served = response.read().decode()
    assert served.count(' data-id="') == PAGE_SIZE
    assert "data-gallery-next" in served
    browser.execute_script("document.querySelector('[data-gallery-next]')?.scrollIntoView();")
    wait.until(lambda d: len(card_ids(d)) == community["public_count"])
    assert len(set(card_ids(browser))) == community["public_count"]  # no card twice
    assert not browser.find_elements(By.CSS_SELECTOR, "[data-gallery-next]")
    assert page_was_not_reloaded(browser)
    card = browser.find_element(By.CSS_SELECTOR, "[data-gallery-grid] [data-id] img")
    assert card.get_attribute("loading") == "lazy" and card.get_attribute("width")

    # Another sort: the most liked first, and the sort is in the URL to share.
    top = browser.find_element(By.CSS_SELECTOR, "main a[href*='sort=top']")
    next_page_after(browser, top.click)
    assert "sort=top" in browser.current_url
    assert card_ids(browser)[:2] == [
        community["most_liked"].public_id,
        community["liked_once"].public_id,
    ]
    # Trending weighs a remix (even a private one) three likes: the family's two public
    # members, the later first, before the portrait with two likes.
    sort = Select(browser.find_element(By.ID, "gallery-sort"))
    next_page_after(browser, lambda: sort.select_by_value("trending"))
    assert "sort=trending" in browser.current_url
    assert card_ids(browser)[:3] == [
        community["remix"].public_id,
        community["original"].public_id,
        community["most_liked"].public_id,
    ]
    assert Select(browser.find_element(By.ID, "gallery-sort")).first_selected_option.text == (
        "Trending"
    )  # and the page says which sort it shows

    # --- Search: only the portraits that say "lighthouse", and none that is private. ---
    explore = browser.find_element(By.CSS_SELECTOR, "header a[href='/explore/']")
    next_page_after(browser, explore.click)
    search = browser.find_element(By.ID, "gallery-q")
    next_page_after(browser, lambda: search.send_keys("lighthouse", Keys.ENTER))
    # The URL says what the visitor chose, and nothing they did not (no period).
    assert browser.current_url.endswith("/explore/?q=lighthouse"), browser.current_url
    assert sorted(card_ids(browser)) == sorted(
        [community["original"].public_id, community["remix"].public_id]
    )
    assert "Study" not in browser.find_element(By.CSS_SELECTOR, "[data-gallery-grid]").text

    # --- A portrait, and the family of its idea. ----------------------------------------
    next_page_after(browser, browser.find_element(By.LINK_TEXT, "Red beard").click)
    assert browser.current_url.endswith(community["remix"].get_absolute_url())
    tree = browser.find_element(By.CSS_SELECTOR, "main a[href$='/tree/']")
    next_page_after(browser, tree.click)
    assert browser.current_url.endswith(f"/p/{community['remix'].public_id}/tree/")
    nodes = browser.find_elements(By.CSS_SELECTOR, ".tree .tree-node")
    assert len(nodes) == 3, browser.find_element(By.TAG_NAME, "main").text
    original_node, remix_node, private_node = nodes
    assert "The lighthouse keeper" in original_node.text and "Alice Liddell" in original_node.text
    assert "Red beard" in remix_node.text and "Bob Marley" in remix_node.text
    assert "red" in remix_node.find_element(By.CSS_SELECTOR, ".edge").text  # what changed
    for node in (original_node, remix_node):
        thumbnail = node.find_element(By.CSS_SELECTOR, ".tree-thumb img")
        wait.until(
            lambda d, img=thumbnail: d.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", img
            )
        )
    # carol's private remix keeps its place and her credit, and shows nothing of itself.
    assert "Not available" in private_node.text and "Carol Ann" in private_node.text
    assert not private_node.find_elements(By.TAG_NAME, "img")
    assert "Night watch" not in browser.page_source and "at night" not in browser.page_source
    # Nested: bob's remix sits under alice's original, carol's under bob's.
    assert browser.find_elements(By.CSS_SELECTOR, ".tree > li > ul > li > ul > li .unavailable")

    # --- They join, like the portrait without a reload, and follow its author. --------
    sign_up(browser, site, "newcomer", "a-long-and-unusual-passphrase")
    newcomer = User.objects.get(username="newcomer")
    browser.get(site.url + community["remix"].get_absolute_url())
    mark_page(browser)
    like = browser.find_element(By.CSS_SELECTOR, "form.like-toggle")
    assert like.find_element(By.CSS_SELECTOR, ".toggle-count").text == "0 likes"
    like.find_element(By.CSS_SELECTOR, "button[aria-pressed=false]").click()
    wait.until(
        ec.text_to_be_present_in_element(
            (By.CSS_SELECTOR, "form.like-toggle .toggle-count"), "1 like"
        )
    )
    assert page_was_not_reloaded(browser)
    assert like.find_element(By.TAG_NAME, "button").get_attribute("aria-pressed") == "true"
    assert Like.objects.filter(user=newcomer, portrait=community["remix"]).exists()
    community["remix"].refresh_from_db()
    assert community["remix"].like_count == 1

    browser.get(site.url + "/u/bob/")
    mark_page(browser)
    counts = browser.find_element(By.ID, "profile-counts")
    assert "0 followers" in counts.text
    browser.find_element(By.CSS_SELECTOR, "form.community-toggle button.follow").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "profile-counts"), "1 follower"))
    assert page_was_not_reloaded(browser)
    button = browser.find_element(By.CSS_SELECTOR, "form.community-toggle button.follow")
    assert button.get_attribute("aria-pressed") == "true"
    assert Follow.objects.filter(follower=newcomer, followed=community["bob"]).exists()

    # --- Another member follows them: the badge says so at once, no reload. -----------
    badge = browser.find_element(By.CSS_SELECTOR, "[data-unread-badge]")
    assert not badge.is_displayed()
    # The page's notifications socket is open: the server sent the count on connect.
    wait.until(
        lambda d: d.execute_script(
            "return window.__sockets.some((s) => s.url.endsWith('/ws/notifications/')"
            " && s.messages.some((m) => m.unread_count === 0))"
        )
    )
    _, key = api_token_create(user=community["alice"], name="browser test")
    assert follow_by_api(site, key, "newcomer")["followed"] is True
    wait.until(ec.visibility_of(badge))
    assert browser.find_element(By.CSS_SELECTOR, "[data-unread-count]").text == "1"
    assert page_was_not_reloaded(browser)
    assert Notification.objects.filter(
        recipient=newcomer, actor=community["alice"], kind="follow"
    ).exists()

    next_page_after(browser, browser.find_element(By.CSS_SELECTOR, "a.nav-notifications").click)
    notification = browser.find_element(By.CSS_SELECTOR, ".notifications .notification")
    assert "Alice Liddell" in notification.text and "follow" in notification.text
