from django.urls import path

import accounts.converters  # noqa: F401 - registers <username:…>
import moderation.converters  # noqa: F401 - registers <row_id:…>
import portraits.converters  # noqa: F401 - registers <public_id:…>
from moderation import views

app_name = "moderation"

urlpatterns = [
    path("rules/", views.rules, name="rules"),
    # Reporting, from a portrait's page and from a member's profile.
    path("p/<public_id:public_id>/report/", views.report_portrait, name="report-portrait"),
    path("u/<username:username>/report/", views.report_member, name="report-member"),
    path("moderation/reports/<row_id:pk>/", views.report_detail, name="report-detail"),
    # Appeals: Settings → Appeals, and one decision's form (a moderation notice links it).
    path("moderation/appeals/", views.appeals, name="appeals"),
    path("moderation/appeals/new/<row_id:action_id>/", views.appeal_create, name="appeal-create"),
    # A suspended member cannot sign in: the token in the address is their way in here.
    path("moderation/suspended/<str:token>/", views.suspended, name="suspended"),
    path("moderation/log/", views.log, name="log"),
]
