"""Seed style presets from the portrait tradition. Moderators edit them in the admin."""

from django.db import migrations

STYLES = [
    ("Impressionist", "impressionist",
     "impressionist oil portrait of {prompt}, loose visible brushstrokes, dappled natural light, in the manner of Renoir and Morisot",
     "photograph, hard edges, digital art"),
    ("Hyperreal photograph", "hyperreal-photograph",
     "hyperrealistic photograph of {prompt}, 85mm lens, shallow depth of field, natural skin texture, studio softbox light",
     "painting, illustration, cartoon, blurry, deformed"),
    ("Baroque chiaroscuro", "baroque-chiaroscuro",
     "baroque portrait of {prompt}, dramatic chiaroscuro, deep shadows, single candle light, in the manner of a 17th-century master like Rembrandt or Caravaggio",
     "flat lighting, modern, bright background"),
    ("Charcoal sketch", "charcoal-sketch",
     "charcoal sketch of {prompt}, expressive hatching, smudged tones, on textured paper",
     "color, photograph, digital"),
    ("Watercolour", "watercolour",
     "watercolour portrait of {prompt}, soft washes, bleeding pigments, white paper showing through",
     "photograph, harsh lines, oversaturated"),
    ("Film noir", "film-noir",
     "film noir portrait of {prompt}, black and white, venetian blind shadows, 1940s, cigarette smoke, high contrast",
     "color, cheerful, flat lighting"),
    ("Neon futurism", "neon-futurism",
     "neon futurist portrait of {prompt}, magenta and cyan rim light, rain-soaked city reflections, cyberpunk",
     "daylight, muted colors, vintage"),
    ("Renaissance tempera", "renaissance-tempera",
     "early renaissance egg tempera portrait of {prompt}, three-quarter view, gold leaf, fine detail, in the manner of Botticelli",
     "photograph, modern clothing, blurry"),
    ("Surreal dreamscape", "surreal-dreamscape",
     "surreal dreamscape portrait of {prompt}, impossible architecture, melting forms, in the manner of Magritte and Dalí",
     "mundane, plain background, photograph"),
    ("Bioluminescent fantasy", "bioluminescent-fantasy",
     "bioluminescent fantasy portrait of {prompt}, glowing patterns on skin, deep forest night, ethereal particles",
     "daylight, dull, desaturated"),
    ("Ukiyo-e woodblock", "ukiyo-e",
     "ukiyo-e woodblock print portrait of {prompt}, flat colour areas, bold outlines, washi paper texture, in the manner of Utamaro",
     "photograph, 3d render, gradients"),
    ("Pop art", "pop-art",
     "pop art portrait of {prompt}, bold flat colours, halftone dots, screen print, in the manner of Warhol",
     "photograph, muted colours, realistic"),
]


def seed(apps, schema_editor):
    StylePreset = apps.get_model("generation", "StylePreset")
    for order, (name, slug, template, negative) in enumerate(STYLES, start=1):
        StylePreset.objects.update_or_create(
            slug=slug,
            defaults={"name": name, "prompt_template": template, "negative_prompt": negative, "order": order * 10},
        )


def unseed(apps, schema_editor):
    apps.get_model("generation", "StylePreset").objects.filter(slug__in=[s[1] for s in STYLES]).delete()


class Migration(migrations.Migration):
    dependencies = [("generation", "0002_initial")]
    operations = [migrations.RunPython(seed, unseed)]
