from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.selectors import user_get_public
from config.errors import NotFound
from portraits.selectors import portrait_list_public, portraits_withheld

PROFILE_PORTRAITS = 24


def home(request):
    portraits = list(portrait_list_public()[:24])
    # Titles as this viewer may read them, decided for the whole list in one query.
    portraits_withheld(portraits=portraits, viewer=request.user)
    return render(request, "gallery/home.html", {"portraits": portraits})


@require_GET
def profile(request, username: str):
    """A member's public face: who they are and their public portraits.

    In the gallery, not in accounts: it shows portraits, and accounts sits below portraits.
    """
    try:
        member = user_get_public(username=username)
    except NotFound:
        raise Http404("No such member.") from None
    if member.username != username:
        return redirect(member, permanent=True)
    # The member's public portraits (the gallery's visibility rules, one selector).
    portraits = list(portrait_list_public().filter(author=member)[:PROFILE_PORTRAITS])
    # Titles as this viewer may read them, decided for the whole list in one query.
    portraits_withheld(portraits=portraits, viewer=request.user)
    return render(request, "gallery/profile.html", {"member": member, "portraits": portraits})
