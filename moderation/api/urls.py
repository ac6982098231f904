from django.urls import path

from config.pagecache import cache_public
from moderation.api import views

urlpatterns = [
    path("rules/", views.RuleListView.as_view(), name="rule-list"),
    path("reports/", views.ReportListCreateView.as_view(), name="report-list"),
    path("appeals/", views.AppealListCreateView.as_view(), name="appeal-list"),
    path("appeals/appealable/", views.AppealableListView.as_view(), name="appeal-appealable"),
    # Public, and the same for every anonymous reader: cached like the gallery's lists
    # (a hide drops the cache at once, so a hidden portrait's link goes with it).
    path("moderation/log/", cache_public(views.ModerationLogView.as_view()), name="moderation-log"),
]
