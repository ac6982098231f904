"""A job's recipe: the asked fields live only in their columns; the JSON keeps the snapshot.

``GenerationJob.recipe`` becomes ``frozen`` and loses the keys its columns hold (see
``portraits.recipe``). The reverse puts them back from the columns.
"""

from django.db import migrations

# Written out, not imported: a migration stays what it was when the code moves on.
ASKED = (
    "prompt",
    "negative_prompt",
    "scheduler",
    "seed",
    "steps",
    "guidance_scale",
    "width",
    "height",
    "num_images",
    "init_strength",
)


def strip_asked(apps, schema_editor):
    GenerationJob = apps.get_model("generation", "GenerationJob")
    for job in GenerationJob.objects.only("pk", "frozen").iterator():
        frozen = {key: value for key, value in job.frozen.items() if key not in ASKED}
        if frozen != job.frozen:
            GenerationJob.objects.filter(pk=job.pk).update(frozen=frozen)


def restore_asked(apps, schema_editor):
    GenerationJob = apps.get_model("generation", "GenerationJob")
    for job in GenerationJob.objects.iterator():
        recipe = {**job.frozen, **{key: getattr(job, key) for key in ASKED}}
        GenerationJob.objects.filter(pk=job.pk).update(frozen=recipe)


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0006_delivery_task_id_submission_keys"),
    ]

    operations = [
        migrations.RenameField(model_name="generationjob", old_name="recipe", new_name="frozen"),
        migrations.RunPython(strip_asked, restore_asked),
    ]
