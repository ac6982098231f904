from django.urls import path

from generation.consumers import JobConsumer

websocket_urlpatterns = [
    # Any segment: the consumer refuses an id that is not a UUID like an unknown job.
    path("ws/jobs/<str:job_id>/", JobConsumer.as_asgi()),
]
