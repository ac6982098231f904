"""Record when a job was last sent to the broker, so the sweeper re-sends it once per
threshold instead of on every sweep. Existing jobs were last sent when created."""

import django.utils.timezone
from django.db import migrations, models
from django.db.models import F


def from_created_at(apps, schema_editor):
    GenerationJob = apps.get_model("generation", "GenerationJob")
    GenerationJob.objects.update(enqueued_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0003_seed_style_presets"),
    ]

    operations = [
        migrations.AddField(
            model_name="generationjob",
            name="enqueued_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.RunPython(from_created_at, migrations.RunPython.noop, elidable=True),
    ]
