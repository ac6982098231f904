from django.db import migrations, models


def noise_to_demo(apps, schema_editor):
    GenerationModel = apps.get_model("generation", "GenerationModel")
    GenerationModel.objects.filter(paints_noise=True).update(demo="noise")


def demo_to_noise(apps, schema_editor):
    GenerationModel = apps.get_model("generation", "GenerationModel")
    GenerationModel.objects.filter(demo="noise").update(paints_noise=True)


class Migration(migrations.Migration):
    """`paints_noise` becomes `demo`: the random model and the trained one each say what
    they paint."""

    dependencies = [("generation", "0009_job_reproduces")]

    operations = [
        migrations.AddField(
            model_name="generationmodel",
            name="demo",
            field=models.CharField(
                blank=True,
                choices=[
                    ("noise", "Random weights: paints abstract shapes"),
                    ("portraits", "Trained offline demo: small stylised portraits"),
                ],
                default="",
                help_text="One of the project's own offline models: the site tells members "
                "what it can paint. Blank for a real model.",
                max_length=10,
            ),
        ),
        migrations.RunPython(noise_to_demo, demo_to_noise),
        migrations.RemoveField(model_name="generationmodel", name="paints_noise"),
    ]
