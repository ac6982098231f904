from django.urls import path

import portraits.converters  # noqa: F401 - registers <public_id:…>
from generation import views

app_name = "generation"

urlpatterns = [
    path("create/", views.job_create, name="job-create"),
    path("jobs/", views.job_list, name="job-list"),
    path("jobs/<uuid:pk>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:pk>/cancel/", views.job_cancel, name="job-cancel"),
    path("jobs/<uuid:pk>/publish/", views.job_publish, name="job-publish"),
    path("jobs/<uuid:pk>/again/", views.job_submit_again, name="job-again"),
    path(
        "p/<public_id:public_id>/reproduce/",
        views.job_create_reproduction,
        name="portrait-reproduce",
    ),
    path("p/<public_id:public_id>/vary/", views.portrait_vary, name="portrait-vary"),
    path("sweeps/", views.sweep_list, name="sweep-list"),
    path("sweeps/new/", views.sweep_create, name="sweep-create"),
    path("sweeps/<uuid:pk>/", views.sweep_detail, name="sweep-detail"),
    path("sweeps/<uuid:pk>/triage/", views.sweep_triage, name="sweep-triage"),
    path("sweeps/<uuid:pk>/compare/", views.sweep_compare, name="sweep-compare"),
    path("sweeps/<uuid:pk>/cancel/", views.sweep_cancel, name="sweep-cancel"),
    path("sweeps/<uuid:pk>/pick/", views.sweep_pick, name="sweep-pick"),
    path("taste/", views.taste_detail, name="taste"),
    path("taste/learning/", views.taste_learning, name="taste-learning"),
    path("taste/reset/", views.taste_reset, name="taste-reset"),
    path("taste/export/", views.taste_export, name="taste-export"),
]
