"""An image-to-image job needs its parent portrait only until it is over: deleting the
portrait a finished remix job started from (SET_NULL) broke the old check constraint."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0004_job_enqueued_at"),
        ("portraits", "0001_initial"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="generationjob",
            name="generation_job_init_strength_needs_parent",
        ),
        migrations.AddConstraint(
            model_name="generationjob",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("init_strength__isnull", True),
                    models.Q(
                        ("init_strength__gt", 0),
                        ("init_strength__lte", 1),
                        models.Q(
                            ("parent__isnull", False),
                            ("status__in", ["succeeded", "failed", "cancelled"]),
                            _connector="OR",
                        ),
                    ),
                    _connector="OR",
                ),
                name="generation_job_init_strength_needs_parent",
            ),
        ),
    ]
