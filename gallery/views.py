from django.shortcuts import render

from portraits.selectors import portrait_list_public, portraits_withheld


def home(request):
    portraits = list(portrait_list_public()[:24])
    # Titles as this viewer may read them, decided for the whole list in one query.
    portraits_withheld(portraits=portraits, viewer=request.user)
    return render(request, "gallery/home.html", {"portraits": portraits})
