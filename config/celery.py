"""The Celery application. Tasks are discovered in each app's ``tasks.py``.

Settings live in ``config.settings`` under the ``CELERY_`` prefix. GPU work goes
to the ``gpu`` queue: ``celery -A config worker -Q gpu --concurrency 1`` per GPU.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("likeness")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
