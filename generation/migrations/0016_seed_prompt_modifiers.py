"""The prompt builder's first vocabularies. Where the offline demo model was taught the
words (generation.training.captions), the chips use them, so they change its pictures too."""

from django.db import migrations

MODIFIERS = {
    "mood": [
        ("Smiling", "with a smile"),
        ("Serious", "with a serious expression"),
        ("Surprised", "with a surprised look"),
        ("Serene", "serene, calm"),
        ("Melancholic", "melancholic, wistful"),
    ],
    "lighting": [
        ("Light from the left", "lit from the left"),
        ("Light from the right", "lit from the right"),
        ("Front light", "front lighting"),
        ("Rim light", "rim light, glowing edges"),
        ("Candlelight", "warm candlelight"),
    ],
    "time": [
        ("Daylight", "in daylight"),
        ("Dusk", "at dusk"),
        ("Night", "at night"),
        ("Golden hour", "golden hour"),
    ],
    "framing": [
        ("Head and shoulders", "head and shoulders portrait"),
        ("Close-up", "close-up of the face"),
        ("Three-quarter view", "three-quarter view"),
        ("Profile", "in profile"),
    ],
    "medium": [
        ("Oil on canvas", "oil on canvas"),
        ("Pencil", "pencil drawing"),
        ("Gouache", "gouache"),
        ("Photograph", "35mm photograph"),
    ],
}


def seed(apps, schema_editor):
    PromptModifier = apps.get_model("generation", "PromptModifier")
    for category, items in MODIFIERS.items():
        for order, (name, text) in enumerate(items):
            slug = f"{category}-{name.lower().replace(' ', '-')}"
            PromptModifier.objects.get_or_create(
                slug=slug,
                defaults={"category": category, "name": name, "text": text, "order": order},
            )


def unseed(apps, schema_editor):
    apps.get_model("generation", "PromptModifier").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("generation", "0015_prompt_modifiers")]
    operations = [migrations.RunPython(seed, unseed)]
