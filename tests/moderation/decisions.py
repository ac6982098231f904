"""What the tests of moderation's core decisions share (test_actions, test_audit,
test_appeals): rules, reports as H3's report form leaves them, and the public surfaces a
hidden portrait must leave."""

from __future__ import annotations

from moderation.models import Case, Report, Rule
from portraits.models import Portrait
from tests.portraits.factories import PortraitFactory, recipe_for

# Lists others browse, fetched anonymously or as another member; a listed portrait's
# public id (or its title) appears in the body.
LISTS = (
    "/",
    "/explore/?sort=newest",
    "/api/v1/gallery/",
    "/api/v1/gallery/?sort=top&period=all",
    "/api/v1/gallery/?sort=trending",
    "/explore/?q=quokka",
    "/api/v1/gallery/?q=quokka",
    "/tags/judged/",
    "/api/v1/tags/judged/portraits/",
    "/u/alice/",
    "/feeds/newest.atom",
    "/u/alice/feed.atom",
)


MODERATOR_NAMES = ("wanda_warden", "Wanda Warden")


def moderator_make(make_user):
    """A moderator with a name to look for: it must never reach members."""
    from django.contrib.auth.models import Group

    user = make_user(MODERATOR_NAMES[0], display_name=MODERATOR_NAMES[1], is_staff=True)
    user.groups.add(Group.objects.get(name="Moderators"))
    return user


def names_a_moderator(text: str) -> bool:
    return any(name.lower() in text.lower() for name in MODERATOR_NAMES)


def rule_make(title: str = "No spam", order: int = 1) -> Rule:
    return Rule.objects.create(title=title, text=f"The rule: {title.lower()}.", order=order)


def quokka(author, **fields) -> Portrait:
    """A public portrait of ``author``'s, tagged, with words search finds."""
    from portraits.services import portrait_update

    portrait = PortraitFactory(
        author=author,
        title=fields.pop("title", "Quokka at dusk"),
        recipe=fields.pop("recipe", recipe_for("a quokka at dusk")),
        **fields,
    )
    portrait_update(portrait=portrait, by=author, data={"tags": ["judged"]})
    return Portrait.objects.get(pk=portrait.pk)


def reported(*, reporters, rule, portrait=None, user=None) -> Case:
    """An open report case with one report per reporter, as ``report_submit`` makes them."""
    case, _ = Case.objects.get_or_create(
        kind=Case.Kind.REPORT,
        status=Case.Status.OPEN,
        target_portrait=portrait,
        target_user=user,
    )
    for reporter in reporters:
        Report.objects.create(
            case=case,
            reporter=reporter,
            target_portrait=portrait,
            target_user=user,
            category=Report.Category.SPAM,
            rule=rule,
            text="It is spam.",
        )
    return case


def body(client, url: str) -> tuple[int, str]:
    response = client.get(url, HTTP_ACCEPT="*/*")
    assert response.status_code < 500, (url, response.status_code)
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, content.decode(errors="replace")


def appears(client, url: str, portrait: Portrait) -> bool:
    status, text = body(client, url)
    return status == 200 and (portrait.public_id in text or portrait.title in text)


def moderation_notices(user) -> list:
    from gallery.models import Notification

    return list(
        Notification.objects.filter(recipient=user, kind=Notification.Kind.MODERATION).order_by(
            "id"
        )
    )
