from django.urls import path

import portraits.converters  # noqa: F401 - registers <public_id:…>
from portraits import views

app_name = "portraits"

urlpatterns = [
    path("me/portraits/", views.my_portraits, name="mine"),
    path("credentials/verify/", views.credentials_verify, name="credentials-verify"),
    path("p/<public_id:public_id>/", views.portrait_detail, name="detail"),
    path("p/<public_id:public_id>/image/", views.portrait_image, name="image"),
    path("p/<public_id:public_id>/thumbnail/", views.portrait_thumbnail, name="thumbnail"),
    path("p/<public_id:public_id>/download/", views.portrait_download, name="download"),
    path("p/<public_id:public_id>/remixes/", views.portrait_remixes, name="remixes"),
    path("p/<public_id:public_id>/credentials/", views.portrait_credentials, name="credentials"),
    path("p/<public_id:public_id>/edit/", views.portrait_edit, name="edit"),
    path("p/<public_id:public_id>/tree/", views.portrait_tree, name="tree"),
    path("p/<public_id:public_id>/visibility/", views.portrait_visibility, name="visibility"),
    path("p/<public_id:public_id>/delete/", views.portrait_delete, name="delete"),
]
