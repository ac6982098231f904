from django.urls import path
from rest_framework.routers import SimpleRouter

from portraits.api.views import CredentialsVerifyView, MyPortraitListView, PortraitViewSet

router = SimpleRouter()
router.register("portraits", PortraitViewSet, basename="portrait")

urlpatterns = [
    path("me/portraits/", MyPortraitListView.as_view(), name="my-portraits"),
    path("credentials/verify/", CredentialsVerifyView.as_view(), name="credentials-verify"),
    *router.urls,
]
