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
]
