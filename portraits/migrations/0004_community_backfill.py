"""Fill the community columns of portraits made before them, then require them.

Portraits already public count as published when they were painted. The trending
score and search documents are computed as ``portraits.community`` does (a copy:
migrations must not import code that will change). On PostgreSQL, the GIN index that
full-text search uses (SQLite searches ``search_text`` instead: no index to add).
"""

import math
from datetime import UTC, datetime, timedelta

from django.db import migrations, models

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
HALF_LIFE = timedelta(hours=12)


def backfill(apps, schema_editor):
    Portrait = apps.get_model("portraits", "Portrait")
    remixes = {}
    for row in Portrait.objects.filter(parent__isnull=False, deleted_at__isnull=True).values(
        "parent_id", "created_at"
    ):
        remixes.setdefault(row["parent_id"], []).append(row["created_at"])
    vendor = schema_editor.connection.vendor
    for portrait in Portrait.objects.all().iterator():
        recipe = portrait.recipe or {}
        portrait.style = recipe.get("style") or ""
        portrait.model = recipe.get("model") or ""
        terms = [math.log2(3) + (at - EPOCH) / HALF_LIFE for at in remixes.get(portrait.pk, [])]
        portrait.remix_count = len(terms)
        if portrait.visibility == "public":
            portrait.published_at = portrait.created_at
            terms.append((portrait.created_at - EPOCH) / HALF_LIFE)
        if terms:
            top = max(terms)
            portrait.trending = top + math.log2(sum(2 ** (t - top) for t in terms))
        # Title and prompt; words kept from a hidden step are re-read by the app later.
        prompt = recipe.get("prompt", "") if portrait.changes.get("prompt_changed", True) else ""
        portrait.search_text = f"{portrait.title} {prompt}".strip().lower()
        portrait.save()
        if vendor == "postgresql":
            schema_editor.execute(
                "UPDATE portraits_portrait SET search_vector ="
                " setweight(to_tsvector('english', %s), 'A')"
                " || setweight(to_tsvector('english', %s), 'C') WHERE id = %s",
                [portrait.title, prompt, portrait.pk],
            )


def search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS portrait_search_idx ON portraits_portrait"
            " USING gin (search_vector)"
            " WHERE visibility = 'public' AND deleted_at IS NULL AND hidden_at IS NULL"
        )


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS portrait_search_idx")


class Migration(migrations.Migration):
    dependencies = [("portraits", "0003_community")]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(search_index, drop_search_index),
        migrations.AddConstraint(
            model_name="portrait",
            constraint=models.CheckConstraint(
                condition=~models.Q(visibility="public")
                | models.Q(published_at__isnull=False, trending__isnull=False),
                name="portrait_public_has_published_at",
            ),
        ),
    ]
