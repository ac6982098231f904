"""What the admin tests share: rules, a reported family of portraits, the moderator's
client on the real admin pages, and what the public sees of a portrait.

The family: carol's public original "Lighthouse"; alice's public remix of it, "Red beard"
(the portrait reported); bob's public remix of alice's, "Red beard at night", and dave's
remix of bob's (descendants of the reported one). Reports go through H3's
``moderation.reports.report_submit``, as the site's form and API file them.
"""

from __future__ import annotations

import re

from django.test import Client

from portraits.models import Portrait
from portraits.services import portrait_update
from tests.portraits.factories import PortraitFactory, recipe_for

CHANGELIST = "/admin/moderation/case/"


def case_url(case) -> str:
    return f"/admin/moderation/case/{case.pk}/change/"


def decide_url(case) -> str:
    return f"/admin/moderation/case/{case.pk}/decide/"


def decide(client, case, decision, *, rule=None, reason="", **fields):
    """POST the case page's decision form, as its submit button does."""
    data = {"decide-decision": decision, "decide-reason": reason}
    if rule is not None:
        data["decide-rule"] = rule.pk
    data.update({f"decide-{name}": value for name, value in fields.items()})
    return client.post(decide_url(case), data)


def publish(portrait: Portrait) -> Portrait:
    return portrait_update(portrait=portrait, by=portrait.author, data={"visibility": "public"})


def family(*, alice, bob, carol, dave) -> dict[str, Portrait]:
    def make(author, title, prompt, parent=None):
        portrait = PortraitFactory(
            author=author,
            title=title,
            parent=parent,
            recipe=recipe_for(prompt),
            visibility=Portrait.Visibility.PRIVATE,
        )
        portrait_update(portrait=portrait, by=author, data={"tags": ["sea"]})
        return publish(portrait)

    original = make(carol, "Lighthouse", "a lighthouse keeper")
    reported = make(alice, "Red beard", "a lighthouse keeper with a red beard", original)
    child = make(
        bob, "Red beard at night", "a lighthouse keeper with a red beard at night", reported
    )
    grandchild = make(dave, "Red beard in fog", "a keeper with a red beard in fog", child)
    return {"original": original, "reported": reported, "child": child, "grandchild": grandchild}


def report(reporter, *, rule, portrait=None, user=None, category="harassment", text=""):
    from moderation.reports import report_submit

    return report_submit(
        reporter=reporter, portrait=portrait, user=user, category=category, rule=rule, text=text
    )


def shown_to_public(portrait: Portrait) -> dict[str, bool]:
    """Where an anonymous visitor finds ``portrait``: lists by its id, pages by status."""
    client = Client()
    pid = portrait.public_id
    found = {}
    for name, url in {
        "gallery page": "/",
        "explore page": "/explore/?sort=newest",
        "gallery API": "/api/v1/gallery/",
        "tag API": "/api/v1/tags/sea/portraits/",
        "profile page": f"/u/{portrait.author.username}/",
        "newest Atom": "/feeds/newest.atom",
    }.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        found[name] = pid in response.content.decode()
    for name, url in {
        "portrait page": f"/p/{pid}/",
        "portrait API": f"/api/v1/portraits/{pid}/",
        "thumbnail": f"/p/{pid}/thumbnail/",
    }.items():
        status = client.get(url).status_code
        assert status in (200, 403, 404), (name, status)  # 403: a mature portrait's page
        found[name] = status == 200
    return found


def everywhere(portrait) -> bool:
    return all(shown_to_public(portrait).values())


def nowhere(portrait) -> bool:
    return not any(shown_to_public(portrait).values())


def text_of(response) -> str:
    """A page's text without tags or runs of white space, for phrases split by markup."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))
