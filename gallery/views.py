from django.shortcuts import render

from portraits.selectors import portrait_list_public


def home(request):
    portraits = portrait_list_public()[:24]
    return render(request, "gallery/home.html", {"portraits": portraits})
