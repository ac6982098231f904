from django.urls import path

from generation.consumers import JobConsumer, JobListConsumer, SweepConsumer

websocket_urlpatterns = [
    # All of the signed-in member's jobs, for "My jobs" (one socket per page).
    path("ws/jobs/", JobListConsumer.as_asgi()),
    # Any segment: the consumer refuses an id that is not a UUID like an unknown job.
    path("ws/jobs/<str:job_id>/", JobConsumer.as_asgi()),
    # A sweep's board: every cell live over one socket.
    path("ws/sweeps/<str:sweep_id>/", SweepConsumer.as_asgi()),
]
